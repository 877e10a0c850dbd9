"""Regenerate the sample CSV files in this directory.

Run ``python sample_data/make_samples.py``. The output is deterministic: every
generator draws from ``numpy.random.default_rng`` with a fixed seed, so running
the script again rewrites byte-identical files.

``make_churn`` and ``make_houses`` are also imported by ``benchmarks/`` to build
larger versions of the same synthetic data sets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_wine

HERE = Path(__file__).resolve().parent

CHURN_SEED = 2024
# New customers of the same company, for scoring a model on rows it never saw.
NEW_CHURN_SEED = 2025
NEW_CHURN_ROWS = 500
HOUSES_SEED = 7
WINE_SEED = 178

CHURN_ROWS = 2_000
HOUSES_ROWS = 1_500

SNAPSHOT_DATE = pd.Timestamp("2024-01-31")
CONTRACTS = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"]
REGIONS = [
    "Noord-Holland",
    "Zuid-Holland",
    "Utrecht",
    "Noord-Brabant",
    "Gelderland",
    "Overijssel",
    "Limburg",
    "Friesland",
    "Groningen",
    "Drenthe",
    "Flevoland",
    "Zeeland",
]
# Flevoland and Zeeland are the rare regions (about 0.5% of rows each).
REGION_WEIGHTS = [0.2, 0.19, 0.12, 0.14, 0.11, 0.07, 0.06, 0.04, 0.03, 0.03, 0.005, 0.005]

NEIGHBOURHOODS = {
    # name: (price multiplier, typical distance to the centre in km)
    "Centrum": (1.55, 0.8),
    "Oud-Zuid": (1.45, 2.5),
    "Oost": (1.15, 3.5),
    "West": (1.1, 4.0),
    "Noord": (0.9, 5.5),
    "Nieuw-West": (0.85, 8.0),
    "Zuidoost": (0.75, 10.0),
    "Buitenveldert": (1.05, 7.0),
}
ENERGY_LABELS = list("ABCDEFG")


def make_churn(n_rows: int = CHURN_ROWS, seed: int = CHURN_SEED, first_id: int = 1) -> pd.DataFrame:
    """Synthetic telecom churn data with a binary ``churned`` target ("yes"/"no").

    Customers are numbered from ``first_id``.

    Churn follows a logistic model on contract, tenure, monthly charges, support
    calls, payment method and partner status, so it is learnable but noisy.
    ``monthly_charges`` (~5%) and ``payment_method`` (~3%) have missing values.
    """
    rng = np.random.default_rng(seed)

    start = pd.Timestamp("2021-01-01")
    span_days = (pd.Timestamp("2023-12-31") - start).days
    signup = start + pd.to_timedelta(rng.integers(0, span_days + 1, n_rows), unit="D")
    tenure = ((SNAPSHOT_DATE - signup).days // 30).to_numpy()

    contract = rng.choice(CONTRACTS, n_rows, p=[0.55, 0.25, 0.2])
    payment = rng.choice(PAYMENT_METHODS, n_rows, p=[0.35, 0.2, 0.25, 0.2])
    region = rng.choice(REGIONS, n_rows, p=REGION_WEIGHTS)
    has_partner = rng.random(n_rows) < 0.45
    support_calls = np.minimum(rng.poisson(1.8, n_rows), 10)
    monthly = np.round(np.clip(rng.normal(65, 22, n_rows), 18, 120), 2)
    total = np.round(monthly * np.maximum(tenure, 1) * rng.normal(1.0, 0.03, n_rows), 2)

    contract_effect = pd.Series(contract).map(
        {"month-to-month": 1.5, "one-year": -0.6, "two-year": -2.3}
    )
    logit = (
        -1.6
        + contract_effect.to_numpy()
        - 0.07 * (tenure - 18)
        + 0.035 * (monthly - 65)
        + 0.6 * (support_calls - 1.8)
        + 0.6 * (payment == "electronic-check")
        - 0.4 * has_partner
        + rng.normal(0, 0.3, n_rows)
    )
    churned = rng.random(n_rows) < 1 / (1 + np.exp(-logit))

    width = max(5, len(str(n_rows)))
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:0{width}d}" for i in range(first_id, first_id + n_rows)],
            "signup_date": signup.strftime("%Y-%m-%d"),
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "contract": contract,
            "payment_method": payment,
            "region": region,
            "has_partner": has_partner,
            "support_calls": support_calls,
            "country": "NL",
            "churned": np.where(churned, "yes", "no"),
        }
    )
    frame["monthly_charges"] = frame["monthly_charges"].mask(rng.random(n_rows) < 0.05)
    frame["payment_method"] = frame["payment_method"].mask(rng.random(n_rows) < 0.03)
    return frame


def make_houses(n_rows: int = HOUSES_ROWS, seed: int = HOUSES_SEED) -> pd.DataFrame:
    """Synthetic house sales with a regression target ``price`` (euros).

    Price is a nonlinear function of area, rooms, building year, neighbourhood,
    garden, energy label and distance to the centre, times log-normal noise.
    ``energy_label`` (~8%) and ``distance_to_centre_km`` (~5%) have missing values.
    """
    rng = np.random.default_rng(seed)
    names = list(NEIGHBOURHOODS)
    neighbourhood = rng.choice(names, n_rows, p=[0.1, 0.1, 0.15, 0.15, 0.12, 0.14, 0.12, 0.12])
    multiplier = np.array([NEIGHBOURHOODS[n][0] for n in neighbourhood])
    typical_distance = np.array([NEIGHBOURHOODS[n][1] for n in neighbourhood])

    area = np.round(np.clip(rng.lognormal(np.log(95), 0.4, n_rows), 25, 400), 1)
    rooms = np.clip(np.round(area / 28 + rng.normal(0.5, 0.8, n_rows)), 1, 12).astype(int)
    year_built = np.clip(
        np.round(rng.choice([1905, 1935, 1965, 1995, 2015], n_rows) + rng.normal(0, 12, n_rows)),
        1870,
        2023,
    ).astype(int)
    distance = np.round(np.clip(typical_distance * rng.lognormal(0, 0.35, n_rows), 0.2, 25), 2)
    has_garden = rng.random(n_rows) < np.clip(0.15 + 0.05 * distance, 0, 0.85)

    # Newer houses tend to have better energy labels (index 0 = "A").
    label_index = np.clip(
        np.round((2023 - year_built) / 22 + rng.normal(0, 1.0, n_rows)), 0, 6
    ).astype(int)
    energy_label = np.array(ENERGY_LABELS)[label_index]

    age = 2024 - year_built
    # Pre-war houses carry a premium, post-war (1950-1980) ones a discount.
    era_factor = (
        1
        + 0.12 * np.exp(-(((year_built - 1910) / 20) ** 2))
        - 0.1 * np.exp(-(((year_built - 1965) / 12) ** 2))
    )
    price = (
        5_200
        * area**0.85
        * multiplier
        * np.exp(-0.045 * distance)
        * (1 + 0.04 * np.minimum(rooms, 6))
        * (1 + 0.08 * has_garden)
        * (1 - 0.035 * label_index)
        * era_factor
        * (1 - 0.0008 * np.minimum(age, 60))
        * rng.lognormal(0, 0.12, n_rows)
    )

    frame = pd.DataFrame(
        {
            "area_m2": area,
            "rooms": rooms,
            "year_built": year_built,
            "neighbourhood": neighbourhood,
            "has_garden": has_garden,
            "energy_label": energy_label,
            "distance_to_centre_km": distance,
            "price": np.round(price, 2),
        }
    )
    frame["energy_label"] = frame["energy_label"].mask(rng.random(n_rows) < 0.08)
    frame["distance_to_centre_km"] = frame["distance_to_centre_km"].mask(rng.random(n_rows) < 0.05)
    return frame


def make_wine(seed: int = WINE_SEED) -> pd.DataFrame:
    """scikit-learn's bundled UCI Wine data with a string target ``cultivar``.

    About 3% of ``magnesium`` and ``color_intensity`` are blanked out (seeded).
    """
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.copy()
    frame["cultivar"] = np.asarray(bunch.target_names)[frame.pop("target")]
    rng = np.random.default_rng(seed)
    n_missing = round(0.03 * len(frame))
    for column in ("magnesium", "color_intensity"):
        rows = rng.choice(len(frame), n_missing, replace=False)
        frame.loc[frame.index[rows], column] = np.nan
    return frame


def main() -> None:
    """Write churn.csv, churn_new.csv, wine.csv and houses.csv next to this script."""
    outputs = {
        "churn.csv": make_churn(),
        "churn_new.csv": make_churn(NEW_CHURN_ROWS, NEW_CHURN_SEED, first_id=CHURN_ROWS + 1),
        "wine.csv": make_wine(),
        "houses.csv": make_houses(),
    }
    for name, frame in outputs.items():
        path = HERE / name
        frame.to_csv(path, index=False)
        print(f"wrote {path} ({len(frame)} rows, {path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()

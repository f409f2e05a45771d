"""Shared test set-up: the Agg backend, data and outputs in a temporary folder, and a small processed dataset.

Every test session works in its own temporary ``SVTOOLS_DATA`` and ``SVTOOLS_OUTPUTS`` (set for the whole
session, and inherited by the kernels the build starts), so tests never touch ``data/`` or ``outputs/`` in the
repository. ``demo_data`` builds a small processed demo dataset once per session: the synthetic generator
(``svtools.ingest.demo``, Cleveland only, small scale) when it exists, else a tiny hand-made extract in the demo source
layout, ingested by ``svtools.ingest`` like the real thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

#: The CSPs the tiny fallback extract covers (Cleveland): Hartlepool and Middlesbrough.
TINY_CSPS = ("E22000027", "E22000029")


@pytest.fixture(scope="session", autouse=True)
def svtools_dirs(tmp_path_factory) -> Path:
    """A temporary ``SVTOOLS_DATA`` and ``SVTOOLS_OUTPUTS`` for the whole session."""
    root = tmp_path_factory.mktemp("svtools")
    mp = pytest.MonkeyPatch()
    mp.setenv("SVTOOLS_DATA", str(root / "data"))
    mp.setenv("SVTOOLS_OUTPUTS", str(root / "outputs"))
    yield root
    mp.undo()


def write_tiny_extract(raw_dir: Path, csps=TINY_CSPS, seed: int = 7) -> Path:
    """A small synthetic police extract (demo source layout, April 2018 to March 2025) for ``csps``."""
    from svtools.ingest.geography import lsoa_geography

    rng = np.random.default_rng(seed)
    geo = lsoa_geography()
    geo = geo[geo["csp_code"].isin(csps) & (geo["lsoa_vintage"] == "2011")]
    months = pd.date_range("2018-04-01", "2025-03-01", freq="MS")
    knife_codes = ["8N", "5D", "34B", "4/1"]
    other_codes = ["105A", "8L", "3B"]
    rows, n = [], 0
    for csp in csps:
        lsoas = geo.loc[geo["csp_code"] == csp, "lsoa_code"].to_numpy()
        for month in months:
            for _ in range(rng.poisson(9)):
                n += 1
                day = int(rng.integers(1, 28))
                date = month + pd.Timedelta(days=day - 1)
                knife = rng.random() < 0.6
                code = rng.choice(knife_codes if knife else other_codes)
                victims = 2 if rng.random() < 0.1 else 1
                for v in range(victims):
                    age = "" if rng.random() < 0.1 else str(int(rng.integers(10, 70)))
                    rows.append({
                        "Crime Number": f"CL/{n}", "Date Recorded": date.strftime("%d/%m/%Y"),
                        "Committed From Date": (date - pd.Timedelta(hours=int(rng.integers(1, 30)))).strftime(
                            "%d/%m/%Y %H:%M"),
                        "HO Class": str(code).replace("/", "."), "Weapon Knife Y/N": "Y" if knife else "N",
                        "DA Flag": "Yes" if rng.random() < 0.2 else "No", "LSOA 2011": rng.choice(lsoas),
                        "Location Type": "Street", "Victim URN": f"V{n}-{v}", "Victim Age at Offence": age,
                        "Victim Gender": rng.choice(["Male", "Female"]), "Victim Ethnicity (ONS 5)": "White",
                        "Suspect URN": f"S{n}", "Suspect Age": str(int(rng.integers(12, 60))),
                        "Suspect Gender": "Male", "Owning Force": "Cleveland Police", "Officer In Case": "PC 1",
                    })
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / "cleveland_crime_extract.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def build_demo_data(raw: Path, processed: Path) -> Path:
    """Generate (or hand-make) a small Cleveland extract in ``raw`` and ingest it into ``processed``."""
    try:
        from svtools.ingest.demo import generate_demo_data
    except ImportError:
        generate_demo_data = None
    if generate_demo_data is not None:
        from svtools.ingest import ingest_demo

        generate_demo_data(raw, forces=["cleveland"], scale=0.1, progress=False)
        ingest_demo(raw, processed)
    else:
        from svtools.ingest import ingest_extract

        write_tiny_extract(raw)
        ingest_extract(raw, "demo_extract", "demo", processed, synthetic=True,
                       extra_meta={"sources": ["Synthetic police extract made by the test suite (not real data)"]})
    return processed


@pytest.fixture(scope="session")
def demo_data(svtools_dirs) -> Path:
    """Processed demo data (Cleveland, small) in the session's ``SVTOOLS_DATA``; returns its folder."""
    from svtools.paths import processed_dir, raw_dir

    processed = processed_dir() / "demo"
    if not (processed / "dataset.json").is_file():
        build_demo_data(raw_dir() / "demo", processed)
    assert Path(os.environ["SVTOOLS_DATA"]) in processed.parents
    return processed


@pytest.fixture(scope="session")
def denoms(demo_data) -> str:
    """A copy of the demo dataset whose area tables are rewritten by write_area_tables (every mid-year, Census
    ethnicity): a dataset the denominator tests may change without touching ``demo``."""
    import shutil

    from svtools.ingest.area_tables import write_area_tables

    out = demo_data.parent / "demo_denoms"
    if not (out / "dataset.json").is_file():
        shutil.copytree(demo_data, out, dirs_exist_ok=True)
        write_area_tables(pd.read_parquet(out / "areas.parquet")["csp_code"].tolist(), out)
    return "demo_denoms"


@pytest.fixture(scope="session")
def old_demo(demo_data) -> str:
    """The demo dataset as datasets were ingested before issue 9: population for mid-2019 and mid-2020 only (no
    sex column), no ``lsoa_population`` or ``ethnicity`` table; for the tests that older datasets still work."""
    import shutil

    out = demo_data.parent / "demo_v1"
    if not (out / "dataset.json").is_file():
        shutil.copytree(demo_data, out, dirs_exist_ok=True)
        pop = pd.read_parquet(out / "population.parquet")
        pop = pop[pop["year"].isin([2019, 2020])].groupby(["csp_code", "year", "age"], as_index=False)[
            "population"].sum()
        pop.to_parquet(out / "population.parquet", index=False)
        for name in ("lsoa_population.parquet", "ethnicity.parquet"):
            (out / name).unlink(missing_ok=True)
    return "demo_v1"


# --------------------------------------------------------------------------- section fixtures (tests/section_helpers.py)
import shutil  # noqa: E402

from section_helpers import CSP, DEFINITION, FORCE  # noqa: E402

from svtools.publish import output as plots  # noqa: E402
from svtools.publish import sections  # noqa: E402

@pytest.fixture(scope="module")
def ctx(demo_data):
    return sections.ProfileContext.load(CSP, "demo", DEFINITION, "2025-03-31")


@pytest.fixture(scope="module")
def force_ctx(demo_data):
    return sections.ProfileContext.load_force(FORCE, "demo", DEFINITION, "2025-03-31")


@pytest.fixture(scope="session")
def police_uk_data(svtools_dirs):
    """Processed data.police.uk files of Cleveland and Durham in the session's SVTOOLS_DATA (about 2 s)."""
    from svtools.ingest import ingest_police_uk
    from svtools.paths import processed_dir, real_data_dir

    out = processed_dir() / "police_uk"
    if not (out / "dataset.json").is_file():
        src = real_data_dir() / "police_uk" / "forces_2022-01_to_2022-11"
        raw = svtools_dirs / "police_uk_raw"
        for f in sorted(src.rglob("*-street.csv*")):
            if "cleveland" in f.name or "durham" in f.name:
                dest = raw / f.relative_to(src)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(f, dest)
        ingest_police_uk(raw, out)
    return out


@pytest.fixture(scope="module")
def police_ctx(police_uk_data):
    return sections.ProfileContext.load(CSP, "police_uk", DEFINITION, "2025-03-31")


@pytest.fixture
def shown(monkeypatch, tmp_path):
    """Every display call a section makes, with published CSVs written to a temporary page folder."""
    import IPython.display

    calls: list = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: calls.append((objs, kw)))
    page = tmp_path / "page"
    monkeypatch.setenv(plots.PAGE_DIR_ENV, str(page))
    return calls

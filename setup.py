"""Packaging: ``pip install -e .[dev]`` installs the pipeline, its tests' tools and the ``luigi`` command."""

import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path("etl/version.py").read_text()).group(1)
# The central scheduler of scripts/luigid.sh: prometheus_client for its /metrics (Luigi's own bound), SQLAlchemy 1.4
# for its task history, which Luigi 3.8.1 cannot start on SQLAlchemy 2 (spotify/luigi#3227).
SERVICE = ["prometheus-client>=0.5,<0.25", "sqlalchemy>=1.4,<2"]

setup(
    name="etl",
    version=VERSION,
    description="Date-partitioned daily ETL pipeline for e-commerce orders, on Luigi",
    packages=find_packages(include=["etl", "etl.*"]),
    package_data={"etl": ["luigi_defaults.cfg"]},
    entry_points={"console_scripts": ["etl = etl.__main__:command"]},
    python_requires=">=3.11",
    install_requires=[
        "luigi==3.8.1",
        "pandas>=2.2,<4",
        "numpy>=1.26,<3",
        # pyarrow: the fastest CSV reader and writer available; pandas uses it for strings too.
        "pyarrow>=15",
        # tzdata: the IANA timezone database for zoneinfo where the system has none (slim images, Windows),
        # so [etl] timezone means the same everywhere.
        "tzdata>=2024.1",
        # tqdm: the live progress line of etl backfill on a terminal (time left, redrawn in place, any width).
        "tqdm>=4.66.3",
    ],
    # aiosmtpd: a real SMTP server on a loopback port, so tests read the failure mails Luigi sends;
    # hypothesis: random partition trees and policies for the retention properties;
    # moto[server]: a real S3 endpoint on a loopback port, so the store contract runs on S3 too;
    # playwright: drives Debian's chromium (not its own browser download) for the pages a person looks at;
    # the service's packages, since the tests run it;
    # duckdb: the README's DuckDB query, run over a built tree and compared with etl.query.
    # s3: boto3, the S3 client behind an s3:// base or landing directory (conditional writes, retries).
    # dashboard: matplotlib, the chart of `etl dashboard`, drawn without a display (Agg).
    extras_require={
        "service": SERVICE,
        "s3": ["boto3>=1.35"],
        "dashboard": ["matplotlib>=3.8"],
        "dev": [
            "pytest>=8",
            "ruff>=0.6",
            "psutil>=5.9",
            "aiosmtpd>=1.4",
            "hypothesis>=6",
            "moto[server]>=5",
            "playwright>=1.40",
            *SERVICE,
            "duckdb>=1.1",
        ],
    },
)

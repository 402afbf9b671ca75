# The software environment of every job as a container image, for `snakemake --sdm apptainer` (README.md, "Use as
# a module"): Python 3.11 with the engine (the metapool package) installed from this repository's source, with the
# dependencies of pyproject.toml, Snakemake among them (each job's script unpickles Snakemake's job object).
# workflow/Snakefile's `container:` names the image file metapool-<version>.sif (metapool.__version__) in the
# working directory; build it from the repository's root with
#   docker build -t metapool:0.2.0 .
#   apptainer build metapool-0.2.0.sif docker-daemon://metapool:0.2.0
FROM python:3.11-slim
WORKDIR /opt/metapool
# what pyproject.toml names: its readme, its license file and the package (package-dir: workflow)
COPY pyproject.toml README.md LICENSE ./
COPY workflow/metapool ./workflow/metapool
RUN python -m pip install --no-cache-dir . && python -c "import metapool.steps"

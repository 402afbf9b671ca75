# Releases of the evidence (living review): `make release NAME=2026-12` builds <releases_dir>/2026-12.json from the
# data tables and every analysis's pooled and per-study numbers; results/<plan>/tables/changes.tsv says what
# changed since the release named by `compare_to:` (default: the latest release, if any).
import datetime

from metapool.analysis.release import check_name, resolve_compare_to

# the config as run, without the keys that only say which release to write or compare to
CONFIG_AS_RUN = {
    k: v for k, v in config.items() if k not in ("release_name", "release_date", "compare_to", "releases_dir")
}
RELEASE_DATA = {table: path for table, path in PRESENT.items()}
RELEASE_ANALYSES = {
    name: {
        "pooled": f"{OUT}/analyses/{name}/pooled.tsv",
        "studies": f"{OUT}/analyses/{name}/studies.tsv",
        **{k: p for k, p in sensitivity_tables(name).items() if k == "subgroups"},
    }
    for name in ANALYSES
}
# each network's ranking (P-scores) and every analysis's certainty: their changes are flagged
RELEASE_NETWORKS = {name: f"{OUT}/analyses/{name}/ranking.tsv" for name in NETWORKS}
# the release written by this run is not compared with (its file is the output, not an input)
COMPARE_TO = (
    None if config.get("release_name") else resolve_compare_to(config.get("compare_to", "latest"), RELEASES_DIR)
)
CHANGES = f"{OUT}/tables/changes.tsv" if COMPARE_TO is not None else None


# only when asked for (`make release NAME=...` passes release_name): a release is never rebuilt as the input of the
# changes job, whatever its date
if config.get("release_name"):

    rule release:
        input:
            data=list(RELEASE_DATA.values()),
            results=[path for files in RELEASE_ANALYSES.values() for path in files.values()],
            networks=list(RELEASE_NETWORKS.values()),
            certainty=SOF_TSV,
        output:
            f"{RELEASES_DIR}/{check_name(str(config['release_name']))}.json",
        log:
            f"{OUT}/logs/release.log",
        params:
            engine=engine_code("analysis"),
            name=str(config["release_name"]),
            date=config.get("release_date") or datetime.date.today().isoformat(),
            config=CONFIG_AS_RUN,
            data=RELEASE_DATA,
            analyses=RELEASE_ANALYSES,
            networks=RELEASE_NETWORKS,
        message:
            say(f"release {config['release_name']} of the evidence")
        run:
            run_job("release", rule, input, output, params, wildcards, log)


if CHANGES is not None:

    rule changes:
        input:
            release=f"{RELEASES_DIR}/{COMPARE_TO['name']}.json",
            data=list(RELEASE_DATA.values()),
            results=[path for files in RELEASE_ANALYSES.values() for path in files.values()],
            networks=list(RELEASE_NETWORKS.values()),
            certainty=SOF_TSV,
        output:
            CHANGES,
        log:
            f"{OUT}/logs/changes.log",
        # with the summary of findings it reads and the report that reads it (a group may not depend on itself
        # through a job outside it)
        group:
            "summary"
        params:
            engine=engine_code("analysis"),
            config=CONFIG_AS_RUN,
            data=RELEASE_DATA,
            analyses=RELEASE_ANALYSES,
            networks=RELEASE_NETWORKS,
            specs={name: spec.to_params() for name, spec in SPECS.items()},
        message:
            say(f"what changed since release {COMPARE_TO['name']}")
        run:
            run_job("changes", rule, input, output, params, wildcards, log)

"""The report of the default run shows each survival analysis (medians, hazard ratios, ratios of medians) with its
figure, its method and the hazard ratios whose CI is not centred on the estimate (from the session's workflow run;
the statistics are tested in tests/stats/test_survival.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from metapool.analysis.estimates import TEXT_COLUMNS
from metapool.io import read_tsv


def test_workflow_report_shows_each_survival_analysis_with_figure_method_and_flagged_hrs(workflow_run, tmp_path):
    from metapool.analysis.config import analysis_specs
    from metapool.reporting.page import build_report
    import yaml

    run = Path(workflow_run)
    html = (run / "results/default/report.html").read_text()
    pooled = read_tsv(run / "results/default/tables/pooled.tsv", text_columns=TEXT_COLUMNS)
    survival = pooled[pooled["measure"].isin(["median", "hr", "ratio_of_medians"])]
    assert {"os_median_post_second_gen", "pfs_median_ratio_vs_crizotinib_first_line"} <= set(survival["analysis"])
    for name in survival["analysis"]:
        section = html.split(f'<h2 id="{name}">')[1].split("<h2")[0]
        assert "data:image/svg+xml;base64," in section and "<strong>Methods.</strong>" in section
    assert "one-sided SE" in html and "McGrath et al. 2019" in html
    assert "Test for subgroup differences" in html and "experimental vs crizotinib" in html
    assert "No hazard ratio in the data is flagged" in html
    # a flagged hazard ratio is listed
    config = yaml.safe_load((run / "config/config.yaml").read_text())
    analyses = analysis_specs(config)
    tables = run / "results/default/tables"
    studies = read_tsv(tables / "studies.tsv", text_columns=TEXT_COLUMNS)
    studies.loc[studies["study_id"] == "CROWN_lorlatinib", "ci_not_centred"] = True
    studies.loc[studies["study_id"] == "CROWN_lorlatinib", "ci_asymmetry"] = 0.75
    flagged = tmp_path / "studies.tsv"
    studies.to_csv(flagged, sep="\t", index=False)
    shutil.copy(tables / "audit.tsv", tmp_path / "audit.tsv")
    out = tmp_path / "report.html"
    build_report(
        template=run / "workflow/report/report.html.j2", config=config, analyses=analyses,
        data=sorted((run / "data").glob("*.tsv")), studies=flagged, audit=tmp_path / "audit.tsv",
        pooled=tables / "pooled.tsv", analysis_tables=sorted((run / "results/default/analyses").glob("*/studies.tsv")),
        figures=sorted((run / "results/default/figures").glob("forest_*.svg")), output=out,
    )
    text = out.read_text()
    assert "No hazard ratio in the data is flagged" not in text
    assert "<code>CROWN_lorlatinib</code> (pfs vs crizotinib, independent_review): HR 0.28 (0.19 to 0.41), 0.75 SE off centre" in text

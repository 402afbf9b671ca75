"""Releases of the evidence: build, read, refuse, diff, and the conclusion-change flags (constructed cases)."""

import json

import pytest

from metapool.analysis import release as rel


def _write(path, header, rows):
    path.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def evidence(tmp_path):
    surv = _write(tmp_path / "survival.tsv", ["study_id", "outcome", "assessor", "median", "source"],
                  [["A", "pfs", "investigator", "10.1", "https://a.example"],
                   ["B", "pfs", "investigator", "7.2", "https://b.example"]])
    pooled = _write(tmp_path / "pooled.tsv", ["analysis", *rel.POOLED_FIELDS],
                    [["pfs", "8.1", "6.0", "10.9", "4.0", "15.0", "0.02", "40", "2", "120"]])
    studies = _write(tmp_path / "studies.tsv", ["study_id", "assessor", "estimate", "ci_lower", "ci_upper", "weight"],
                     [["A", "investigator", "10.1", "8", "12", "55"]])
    return tmp_path, surv, pooled, studies


def _build(ev, name="2026-12", date="2026-12-01"):
    tmp, surv, pooled, studies = ev
    return rel.build_release(name, date, {"plan": "default"},
                             {"survival": (surv, ["study_id", "outcome", "assessor"])},
                             {"pfs": {"pooled": pooled, "studies": studies}})


def test_release_is_deterministic_and_reads_back(evidence, tmp_path):
    one, two = rel.dumps(_build(evidence)), rel.dumps(_build(evidence))
    assert one == two
    path = tmp_path / "2026-12.json"
    path.write_bytes(one)
    back = rel.read_release(path)
    assert back["name"] == "2026-12" and back["date"] == "2026-12-01" and back["format"] == rel.FORMAT
    assert back["tables"]["survival"]["rows"]["B | pfs | investigator"]["median"] == "7.2"
    assert back["analyses"]["pfs"]["pooled"]["overall"]["ci_upper"] == "10.9"
    assert back["analyses"]["pfs"]["studies"]["A | investigator"]["weight"] == "55"
    assert list(json.loads(one)) == sorted(json.loads(one))


@pytest.mark.parametrize("name", ["../x", ".hidden", "a b", "", "x.json", "a/b"])
def test_unsafe_names_refused(name):
    with pytest.raises(rel.ReleaseError, match="not a safe file name"):
        rel.check_name(name)


def test_broken_and_unknown_format_refused_naming_file_and_key(evidence, tmp_path):
    release = _build(evidence)
    path = tmp_path / "2026-12.json"
    path.write_bytes(rel.dumps(dict(release, format=99)))
    with pytest.raises(rel.ReleaseError, match=r"2026-12\.json: key 'format' is 99"):
        rel.read_release(path)
    path.write_bytes(rel.dumps({k: v for k, v in release.items() if k != "date"}))
    with pytest.raises(rel.ReleaseError, match=r"2026-12\.json: key 'date' missing"):
        rel.read_release(path)
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(rel.ReleaseError, match=r"2026-12\.json: not a readable release file"):
        rel.read_release(path)
    with pytest.raises(rel.ReleaseError, match=r"DATE: '2026-13-01' is not an ISO date"):
        rel.check_date("2026-13-01")


def test_compare_to_latest_none_and_missing(evidence, tmp_path):
    folder = tmp_path / "releases"
    assert rel.resolve_compare_to("latest", folder) is None
    folder.mkdir()
    (folder / "b.json").write_bytes(rel.dumps(_build(evidence, "b", "2026-01-01")))
    (folder / "a.json").write_bytes(rel.dumps(_build(evidence, "a", "2026-06-01")))
    assert rel.resolve_compare_to(None, folder)["name"] == "a"
    assert rel.resolve_compare_to("b", folder)["name"] == "b"
    assert rel.resolve_compare_to("none", folder) is None
    with pytest.raises(rel.ReleaseError, match=r"compare_to: release 'c' not found in .*releases/"):
        rel.resolve_compare_to("c", folder)


def test_ci_that_stops_excluding_the_threshold_is_flagged():
    old = {"ci_lower": "0.50", "ci_upper": "0.75"}
    new = {"ci_lower": "0.55", "ci_upper": "0.85"}
    assert rel.ci_flags(old, new, 1.0, 0.8) == ["CI no longer excludes the threshold (0.8)"]


def test_ci_that_starts_excluding_the_null_is_flagged():
    old = {"ci_lower": "0.70", "ci_upper": "1.05"}
    new = {"ci_lower": "0.70", "ci_upper": "0.95"}
    assert rel.ci_flags(old, new, 1.0, 0.8) == ["CI now excludes the null (1)"]
    assert rel.ci_flags(old, new, None, None) == []
    assert rel.excludes("", "0.9", 1.0) is None


def test_ranking_change_is_flagged():
    old = {"alectinib": "0.9", "brigatinib": "0.7", "crizotinib": "0.1"}
    assert rel.ranking_flag(old, dict(old, alectinib="0.8")) is None
    assert rel.ranking_flag(old, dict(old, brigatinib="0.95")) == (
        "ranking changed: alectinib > brigatinib > crizotinib → brigatinib > alectinib > crizotinib")


def test_changes_list_rows_and_moved_numbers(evidence):
    old = _build(evidence)
    tmp, surv, pooled, studies = evidence
    _write(surv, ["study_id", "outcome", "assessor", "median", "source"],
           [["A", "pfs", "investigator", "10.1", "https://a.example"],
            ["B", "pfs", "investigator", "7.9", "https://b2.example"],
            ["C", "pfs", "investigator", "5.0", "https://c.example"]])
    _write(pooled, ["analysis", *rel.POOLED_FIELDS], [["pfs", "8.0", "6.0", "10.9", "4.0", "15.0", "0.02", "40", "3",
                                                       "150"]])
    rows, unchanged = rel.changes(old, _build(evidence), {"pfs": (None, None)})
    got = [(r["kind"], r["key"], r["change"], r["field"], r["old"], r["new"], r["source"]) for r in rows]
    assert got == [
        ("report", "B | pfs | investigator", "edited", "median", "7.2", "7.9", "https://b2.example"),
        ("report", "B | pfs | investigator", "edited", "source", "https://a.example".replace("a.", "b."),
         "https://b2.example", "https://b2.example"),
        ("report", "C | pfs | investigator", "added", "", "", "", "https://c.example"),
        ("analysis", "pfs", "edited", "estimate", "8.1", "8.0", ""),
        ("analysis", "pfs", "edited", "k", "2", "3", ""),
        ("analysis", "pfs", "edited", "participants", "120", "150", ""),
    ]
    assert unchanged == []
    assert rel.changes(old, old, {})[1] == ["pfs"]


def test_a_certainty_change_and_a_ranking_change_are_flagged(evidence):
    """A release keeps each analysis's certainty (summary_of_findings.tsv) and each network's P-scores; a rating
    that moves and a ranking that reorders are changes with their flags, an analysis whose numbers and rating
    stay is unchanged."""
    tmp = evidence[0]
    sof = _write(tmp / "sof.tsv", ["analysis", "group", "certainty"], [["pfs", "", "moderate"]])
    ranking = _write(tmp / "ranking.tsv", ["treatment", "p_score"],
                     [["alectinib", "0.9"], ["brigatinib", "0.7"], ["crizotinib", "0.1"]])

    def build():
        return rel.build_release("2026-12", "2026-12-01", {}, {"survival": (evidence[1], ["study_id", "outcome",
                                                                                          "assessor"])},
                                 {"pfs": {"pooled": evidence[2]}}, networks={"nma": ranking}, certainty=sof)

    old = build()
    assert old["analyses"]["pfs"]["certainty"] == {"overall": "moderate"}
    assert old["networks"]["nma"]["ranking"]["brigatinib"] == "0.7"
    assert rel.changes(old, build(), {}) == ([], ["pfs"])
    _write(sof, ["analysis", "group", "certainty"], [["pfs", "", "low"]])
    _write(ranking, ["treatment", "p_score"], [["alectinib", "0.6"], ["brigatinib", "0.7"], ["crizotinib", "0.1"]])
    rows, unchanged = rel.changes(old, build(), {})
    assert unchanged == []
    assert [(r["kind"], r["key"], r["field"], r["old"], r["new"], r["flags"]) for r in rows] == [
        ("analysis", "pfs", "certainty", "moderate", "low", "certainty changed: moderate → low"),
        ("network", "nma", "order by P-score", "alectinib > brigatinib > crizotinib",
         "brigatinib > alectinib > crizotinib",
         "ranking changed: alectinib > brigatinib > crizotinib → brigatinib > alectinib > crizotinib"),
    ]
    # a release without certainty or networks (older, or a plan without them) flags neither
    bare = dict(old, networks={}, analyses={"pfs": {k: v for k, v in old["analyses"]["pfs"].items()
                                                    if k != "certainty"}})
    assert rel.changes(bare, build(), {}) == ([], ["pfs"])

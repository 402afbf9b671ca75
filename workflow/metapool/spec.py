"""The specification of one analysis: what it pools, from which reports, and by which model.

An :class:`AnalysisSpec` is one configured analysis with every option set, its
model a :class:`ModelSpec`; the facts that follow from the options (the measure,
the tables read, the analysis scale, inverse variance or not, ...) are
properties, computed in one place. A multiverse specification is the analysis
spec with some fields replaced (:func:`dataclasses.replace`).

Options a config leaves out take the built-in defaults, the field defaults
below: :meth:`AnalysisSpec.from_options` builds a spec from a config entry
merged with the config's ``defaults:`` (:func:`metapool.analysis.config.analysis_specs`).
Jobs receive a spec as plain data (:meth:`AnalysisSpec.to_params`: a complete
config entry with the analysis's name, so that Snakemake's params trigger sees
every option) and rebuild it (:meth:`AnalysisSpec.from_params`).

Plain Python only (no numpy, scipy or pandas): Snakemake builds the specs while
it parses the workflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from .vocabulary import (
    ASSESSORS,
    BAYES_LIKELIHOODS,
    MU_PRIORS,
    TAU_PRIOR_PRESETS,
    TAU_PRIORS,
    FOREST_SORTS,
    MEASURES,
    MEDIAN_METHOD_FACTS,
    MULTIVERSE_DIMENSIONS,
    SENSITIVITY_KINDS,
    TRANSFORMS,
    outcome,
)

__all__ = ["ModelSpec", "Multiverse", "NetworkSpec", "Prior", "BayesSpec", "AnalysisSpec"]


@dataclass(frozen=True)
class ModelSpec:
    """The model of an analysis: ``method`` (``EE`` or the tau^2 estimator), ``ci`` (``z`` or
    ``hartung_knapp``), ``hk_adhoc`` (Hartung-Knapp never narrower than the z interval), ``pi`` (the
    prediction-interval distribution) and ``level`` (of the pooled CI and of the per-study exact CIs).

    The fields are the keywords of the pooling functions of :mod:`metapool.stats` (:meth:`keywords`).
    """

    method: str = "REML"
    ci: str = "z"
    hk_adhoc: bool = False
    pi: str = "default"
    level: float = 0.95

    @property
    def test(self) -> str:
        """metafor's ``test``: ``z``, ``knha`` (Hartung-Knapp) or ``adhoc`` (Hartung-Knapp, ad hoc)."""
        if self.ci != "hartung_knapp":
            return "z"
        return "adhoc" if self.hk_adhoc else "knha"

    @property
    def ci_choice(self) -> str:
        """The CI in one word, as a multiverse lists it: ``z``, ``hartung_knapp`` or ``hartung_knapp_adhoc``."""
        return "hartung_knapp_adhoc" if self.test == "adhoc" else self.ci

    def keywords(self, *, pi: bool = True) -> dict:
        """The model as keyword arguments of the functions of :mod:`metapool.stats`.

        Parameters
        ----------
        pi : bool
            With the prediction interval (``pi``); ``False`` for the functions that have none
            (:func:`metapool.stats.sensitivity.influence`, :func:`metapool.stats.bias.egger_test`).

        Returns
        -------
        dict
            ``method``, ``ci``, ``hk_adhoc``, ``pi`` (when asked) and ``level``.
        """
        options = asdict(self)
        if not pi:
            del options["pi"]
        return options


@dataclass(frozen=True)
class Multiverse:
    """The multiverse of an analysis: ``threshold`` (on the natural scale; the summary counts the
    specifications whose CI excludes it) and ``choices``, dimension -> options, in the order of
    ``MULTIVERSE_DIMENSIONS`` (an inclusion option is a value or a tuple of values; a ``tau_prior`` option a
    :class:`Prior`)."""

    threshold: float
    choices: Mapping[str, tuple]


@dataclass(frozen=True)
class NetworkSpec:
    """A network meta-analysis (``network:`` on an analysis): ``reference``, the treatment every other is
    compared with in the treatment effects and the forest plot, and ``nodes``, the study column whose value
    names a trial arm's treatment (``drug`` by default; e.g. ``regimen`` to keep doses apart). The
    experimental arm's node is its own value of that column; the comparator arm's node is the hazard-ratio
    row's ``comparator`` when ``nodes`` is ``drug``, else the comparator arm's (``comparator_study_id``) value."""

    reference: str
    nodes: str = "drug"


_PRIOR_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def _number_text(x: float) -> str:
    """A prior parameter as the config writes it: ``0.5``, ``10`` (not ``10.0``)."""
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


@dataclass(frozen=True)
class Prior:
    """A prior distribution as the config writes it: a ``family`` of :data:`~metapool.vocabulary.TAU_PRIORS`
    or :data:`~metapool.vocabulary.MU_PRIORS` (or a preset of :data:`~metapool.vocabulary.TAU_PRIOR_PRESETS`)
    and its parameters ``args`` in the order written (``half_normal(0.5)`` is ``Prior("half_normal", (0.5,))``).
    Built by :meth:`parse`, which checks the family, the number of parameters and their ranges."""

    family: str
    args: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        """The prior as the config writes it: ``half_normal(0.5)``, ``normal(0, 10)``, ``flat``."""
        if not self.args:
            return self.family
        return f"{self.family}({', '.join(_number_text(a) for a in self.args)})"

    @classmethod
    def parse(cls, text, kind: str) -> Prior:
        """The prior written as ``text`` (``name`` or ``name(x, y, ...)``) for ``kind`` ``tau`` or ``mu``.

        Raises
        ------
        ValueError
            Naming the text and what is wrong: an unknown family (with the allowed ones), a wrong number of
            parameters (with their names), a parameter that is not a finite number or not > 0.
        """
        families = TAU_PRIORS if kind == "tau" else MU_PRIORS
        presets = TAU_PRIOR_PRESETS if kind == "tau" else {}
        allowed = ", ".join([*(f"{n}({', '.join(f.parameters)})" if f.parameters else n
                               for n, f in families.items()), *presets])
        match = _PRIOR_TEXT.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"{text!r} is not a prior; write one of {allowed}")
        name, inner = match.group(1), match.group(2)
        if name in presets:
            if inner is not None:
                raise ValueError(f"{text!r}: the preset {name} takes no parameters; write {name}")
            return cls(name)
        if name not in families:
            raise ValueError(f"{text!r}: unknown {kind} prior {name!r}; write one of {allowed}")
        family = families[name]
        parts = [] if inner is None or not inner.strip() else [p.strip() for p in inner.split(",")]
        args = []
        for label, part in zip(family.parameters, parts):
            try:
                value = float(part)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(f"{text!r}: {label} must be a finite number, got {part!r}")
            if label not in family.free and not value > 0:
                raise ValueError(f"{text!r}: {label} must be > 0, got {part}")
            args.append(value)
        need = len(family.parameters)
        if not need - family.optional <= len(parts) <= need:
            form = f"{name}({', '.join(family.parameters)})" if need else name
            raise ValueError(f"{text!r}: {name} takes {need - family.optional if family.optional else need}"
                             f"{f' or {need}' if family.optional else ''} parameter{'s' if need != 1 else ''}; "
                             f"write {form}" + (f" or {name}" if family.optional else ""))
        return cls(name, tuple(args))

    def words(self) -> str:
        """The prior in words: ``half-normal with scale 0.5``, ``normal with mean 0 and sd 10``, ``flat (improper)``,
        or a preset's description."""
        if self.family in TAU_PRIOR_PRESETS:
            return TAU_PRIOR_PRESETS[self.family]
        family = (TAU_PRIORS if self.family in TAU_PRIORS else MU_PRIORS)[self.family]
        if self.family == "uniform" and not self.args:
            return "flat on (0, infinity) (improper)"
        if self.family == "uniform":
            return f"uniform on (0, {_number_text(self.args[0])})"
        if not self.args:
            return family.name
        values = [f"{p} {_number_text(a)}" for p, a in zip(family.parameters, self.args)]
        return f"{family.name} with {', '.join(values[:-1]) + ' and ' if len(values) > 1 else ''}{values[-1]}"


@dataclass(frozen=True)
class BayesSpec:
    """A Bayesian random-effects fit beside an analysis's frequentist one (``bayes:`` in the config).

    ``tau`` and ``mu``: the priors of the between-study standard deviation and of the overall effect, on the
    analysis scale (:class:`Prior`; mu flat by default); ``likelihood``: ``normal`` (the studies' effect sizes
    and standard errors on the analysis scale, the normal-normal model of Röver 2020) or ``binomial``
    (proportions: the exact binomial-normal model on the logit scale); ``prob_above`` and ``prob_below``:
    thresholds on the natural scale (a proportion, a hazard ratio) for the posterior probabilities P(mu > c) and
    P(mu < c) (and the same for a new study's effect); ``why``: the reason for the priors, in words, as the
    report states it."""

    tau: Prior
    why: str
    mu: Prior = Prior("flat")
    likelihood: str = "normal"
    prob_above: float | None = None
    prob_below: float | None = None

    def __post_init__(self):
        if self.likelihood not in BAYES_LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {', '.join(BAYES_LIKELIHOODS)}, got {self.likelihood!r}")

    @classmethod
    def from_options(cls, block: Mapping) -> BayesSpec:
        """The ``bayes:`` block of a config entry (or :meth:`to_params`); raises ``ValueError`` for a prior
        that :meth:`Prior.parse` refuses."""
        given = {key: block[key] for key in ("likelihood", "prob_above", "prob_below") if key in block}
        if "mu" in block:
            given["mu"] = Prior.parse(block["mu"], "mu")
        return cls(tau=Prior.parse(block["tau"], "tau"), why=block["why"], **given)

    def to_params(self) -> dict:
        """The block as plain data (the config's own keys)."""
        out = {"tau": self.tau.text, "mu": self.mu.text, "likelihood": self.likelihood, "why": self.why}
        for key in ("prob_above", "prob_below"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _option(value):
    """A multiverse option as stored: a list of values becomes a tuple."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _plain(value):
    """A multiverse option as plain data: a tuple of values becomes a list, a prior its config text."""
    if isinstance(value, Prior):
        return value.text
    return list(value) if isinstance(value, tuple) else value


_MODEL_FIELDS = tuple(f.name for f in fields(ModelSpec))


@dataclass(frozen=True)
class AnalysisSpec:
    """One configured analysis with every option set.

    ``name``, ``title`` and ``question`` (the clinical question the analysis answers, in words; '' when
    not given); what is pooled: ``outcome`` (a config outcome name, :func:`~metapool.vocabulary.outcome`),
    ``comparator`` (hazard ratios and ratios of medians), ``filters`` (study
    column -> allowed values), ``subgroup`` (a study column, or ``None``),
    ``overall`` (whether the pooled row carries the estimate across all studies; ``False``, with a
    subgroup only, shows the subgroups and their test for differences without an overall estimate,
    as R meta's ``overall = FALSE``; ``None`` in the constructor means the default: ``True`` without a
    subgroup, ``False`` with one, so that an estimate across subgroups is shown only when asked); which
    ``moderators`` (the columns of its meta-regression, none by default); which
    report of a trial cohort: ``report_policy``, ``assessor_preference``; how:
    ``transform`` (proportions), ``median_method`` (medians), ``model``; and what
    else is written: ``sensitivity`` (the tables), ``multiverse``, ``forest_sort`` (the order of the studies
    in its forest plot and summary table, :data:`~metapool.vocabulary.FOREST_SORTS`), ``forest_rob`` (the
    RevMan-style risk-of-bias columns beside its forest plot's rows); the decision it informs:
    ``important_effect`` (the smallest effect that matters, on the natural scale; ``None``: the measure's default,
    :attr:`decision_threshold`) and ``certainty`` (its GRADE ``certainty:`` block as configured, read by
    :func:`metapool.analysis.certainty.certainty_spec`; ``None``: the defaults). With ``network`` (a
    :class:`NetworkSpec`) the analysis is a network meta-analysis of every comparator's hazard ratios
    (``comparator`` is then not set).
    """

    name: str
    title: str
    outcome: str
    comparator: str | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subgroup: str | None = None
    overall: bool | None = None
    question: str = ""
    moderators: tuple[str, ...] = ()
    report_policy: str = "latest_cut"
    assessor_preference: tuple[str, ...] = ASSESSORS
    transform: str = "logit"
    median_method: str = "log_iv"
    model: ModelSpec = ModelSpec()
    sensitivity: tuple[str, ...] = SENSITIVITY_KINDS
    multiverse: Multiverse | None = None
    network: NetworkSpec | None = None
    bayes: BayesSpec | None = None
    forest_sort: str = "data"
    important_effect: float | None = None
    forest_rob: bool = False
    certainty: Mapping | None = None

    def __post_init__(self):
        try:
            outcome(self.outcome)
        except ValueError as e:
            raise ValueError(f"analysis '{self.name}': {e}") from None
        for what, value, allowed in (("transform", self.transform, TRANSFORMS),
                                     ("median_method", self.median_method, MEDIAN_METHOD_FACTS),
                                     ("forest_sort", self.forest_sort, FOREST_SORTS)):
            if value not in allowed:
                raise ValueError(f"analysis '{self.name}': {what} must be one of {', '.join(allowed)}, "
                                 f"got {value!r}")
        if self.overall is None:
            object.__setattr__(self, "overall", self.subgroup is None)

    # ------------------------------------------------------------------------------------ built from data

    @classmethod
    def from_options(cls, name: str, options: Mapping) -> AnalysisSpec:
        """An analysis from its config entry; an option not given takes its built-in default.

        Parameters
        ----------
        name : str
            The analysis's name (its key under ``analyses:``).
        options : Mapping
            The config entry merged with the config's ``defaults:`` (keys of the config schema: ``title``,
            ``outcome``, ``method``, ``filters``, ``multiverse``, ...), or :meth:`to_params`.

        Returns
        -------
        AnalysisSpec
        """
        given = {key: options[key] for key in ("title", "question", "outcome", "comparator", "subgroup",
                                                "overall", "report_policy", "transform", "median_method", "forest_sort",
                                                "forest_rob", "important_effect", "certainty")
                 if key in options}
        if options.get("filters"):
            given["filters"] = {column: tuple(values) for column, values in options["filters"].items()}
        if options.get("moderators"):
            given["moderators"] = tuple(options["moderators"])
        if "assessor_preference" in options:
            given["assessor_preference"] = tuple(options["assessor_preference"])
        if "sensitivity" in options:
            given["sensitivity"] = tuple(options["sensitivity"] or ())
        if options.get("multiverse") is not None:
            block = options["multiverse"]
            given["multiverse"] = Multiverse(
                threshold=block["threshold"],
                choices={dim: tuple(Prior.parse(o, "tau") if dim == "tau_prior" else _option(o) for o in block[dim])
                         for dim in MULTIVERSE_DIMENSIONS if dim in block},
            )
        if options.get("network") is not None:
            given["network"] = NetworkSpec(**options["network"])
        if options.get("bayes") is not None:
            given["bayes"] = BayesSpec.from_options(options["bayes"])
        model = ModelSpec(**{key: options[key] for key in _MODEL_FIELDS if key in options})
        return cls(name=name, model=model, **given)

    def to_params(self) -> dict:
        """The analysis as plain data, the params of the jobs that run it (:meth:`from_params` rebuilds it).

        Returns
        -------
        dict
            Its complete config entry (every option set; text, numbers, lists and mappings only) and its
            ``name``.
        """
        out = {"name": self.name, "title": self.title, "question": self.question, "outcome": self.outcome}
        if self.comparator is not None:
            out["comparator"] = self.comparator
        out["filters"] = {column: list(values) for column, values in self.filters.items()}
        if self.subgroup is not None:
            out["subgroup"] = self.subgroup
        out["overall"] = self.overall
        if self.moderators:
            out["moderators"] = list(self.moderators)
        out.update(report_policy=self.report_policy, assessor_preference=list(self.assessor_preference),
                   transform=self.transform, median_method=self.median_method, **self.model.keywords(),
                   sensitivity=list(self.sensitivity), forest_sort=self.forest_sort,
                   forest_rob=self.forest_rob)
        if self.multiverse is not None:
            out["multiverse"] = {"threshold": self.multiverse.threshold,
                                 **{dim: [_plain(o) for o in options]
                                    for dim, options in self.multiverse.choices.items()}}
        if self.network is not None:
            out["network"] = asdict(self.network)
        if self.bayes is not None:
            out["bayes"] = self.bayes.to_params()
        if self.important_effect is not None:
            out["important_effect"] = self.important_effect
        if self.certainty is not None:
            out["certainty"] = _plain_mapping(self.certainty)
        return out

    @classmethod
    def from_params(cls, params: Mapping) -> AnalysisSpec:
        """The spec written by :meth:`to_params`."""
        return cls.from_options(params["name"], params)

    def pooling_only(self) -> AnalysisSpec:
        """The analysis without what does not change its pooled result (its sensitivity tables, Bayesian fit,
        multiverse, the order of its forest plot, its risk-of-bias columns, the decision it informs and its certainty
        rating): the params of the pooling job, so that editing a multiverse reruns no pooling."""
        return replace(self, sensitivity=(), multiverse=None, bayes=None, forest_sort="data", forest_rob=False,
                       important_effect=None, certainty=None)

    # ------------------------------------------------------------------------------------ derived facts

    @property
    def measure(self) -> str:
        """``proportion``, ``median``, ``hr`` or ``ratio_of_medians``."""
        return outcome(self.outcome).measure

    @property
    def no_effect(self) -> float | None:
        """The value of no difference between the arms on the natural scale (1 for hazard ratios and ratios of
        medians); ``None`` for one-arm measures (a proportion, a median), which have none."""
        return MEASURES[self.measure].null

    @property
    def decision_threshold(self) -> float | None:
        """The smallest effect that matters, on the natural scale: the configured ``important_effect``, else the
        measure's default (:attr:`metapool.vocabulary.Measure.important_effect`: a hazard ratio of 0.8, a ratio of
        medians of 1.25; ``None`` for a proportion or a median, whose value of interest must be configured)."""
        if self.important_effect is not None:
            return self.important_effect
        return MEASURES[self.measure].important_effect

    @property
    def tables(self) -> tuple[str, ...]:
        """The per-study estimate tables (``results/<plan>/tables/<table>_estimates.tsv``) the analysis reads."""
        return outcome(self.outcome).tables

    @property
    def comparative(self) -> bool:
        """Pooled against one comparator arm (hazard ratios, ratios of medians)."""
        return MEASURES[self.measure].comparative

    @property
    def is_network(self) -> bool:
        """A network meta-analysis (``network:`` set): every comparator's contrasts in one model."""
        return self.network is not None

    @property
    def glmm(self) -> bool:
        """Proportions pooled by the binomial-normal GLMM (one step, from the counts)."""
        return self.measure == "proportion" and self.transform == "glmm"

    @property
    def inverse_variance(self) -> bool:
        """Pooled by inverse variance (not the GLMM, not the median of medians)."""
        if self.measure == "proportion":
            return TRANSFORMS[self.transform].inverse_variance
        if self.measure == "median":
            return MEDIAN_METHOD_FACTS[self.median_method].inverse_variance
        return True

    @property
    def has_standard_errors(self) -> bool:
        """Every pooled study has an effect size and its standard error on the analysis scale (inverse
        variance and the GLMM; not the median of medians): a funnel plot, a model CI and method."""
        return self.inverse_variance or self.glmm

    @property
    def scale(self) -> str:
        """The analysis scale: the transform of proportions (``logit``, ``freeman_tukey``, ``arcsine``,
        ``raw``, ``glmm``), ``log`` or ``identity`` for medians pooled by inverse variance, ``none`` for
        the median of medians, ``log`` for hazard ratios and ratios of medians."""
        if self.measure == "proportion":
            return self.transform
        if self.measure == "median":
            return MEDIAN_METHOD_FACTS[self.median_method].scale
        return "log"

    @property
    def median_method_used(self) -> str:
        """The median method of the pooling: the configured one for medians, ``log_iv`` for a ratio of
        medians (each arm's log median), '' for the other measures."""
        if self.measure == "median":
            return self.median_method
        return "log_iv" if self.measure == "ratio_of_medians" else ""

    @property
    def funnel(self) -> bool:
        """A funnel plot is drawn: studies with standard errors around an overall estimate
        (:attr:`has_standard_errors` and ``overall``)."""
        return self.has_standard_errors and bool(self.overall) and not self.is_network

    @property
    def sensitivity_tables(self) -> tuple[str, ...]:
        """The per-analysis tables of the sensitivity job: ``subgroups`` (when ``subgroup`` is set),
        ``moderators`` (the meta-regression, when ``moderators`` are set), ``bayes`` (the Bayesian fit of the
        overall estimate and of each subgroup, when ``bayes`` is set) and the ``sensitivity`` kinds, in the
        order of ``SENSITIVITY_KINDS``; with ``overall: false`` no sensitivity kind (they perturb the overall
        estimate, which such an analysis does not show)."""
        if self.is_network:
            return ()
        kinds = tuple(kind for kind in SENSITIVITY_KINDS if kind in self.sensitivity and self.overall)
        return ((("subgroups",) if self.subgroup else ()) + (("moderators",) if self.moderators else ())
                + (("bayes",) if self.bayes is not None else ()) + kinds)

    @property
    def selection_key(self) -> tuple:
        """What the selection of reports and their effect sizes depend on (not the model's method, CI or
        prediction interval): two analyses with the same key share one selection."""
        return (self.outcome, self.comparator, self.network, tuple(sorted(self.filters.items())), self.report_policy,
                self.assessor_preference, self.median_method, self.transform, self.model.level)


def _plain_mapping(value):
    """A config block as plain dicts and lists (the params of a job)."""
    if isinstance(value, Mapping):
        return {str(k): _plain_mapping(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_mapping(v) for v in value]
    return value

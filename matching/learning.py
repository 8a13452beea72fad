"""Per-customer weight learning from what the customer does with their matches.

Rule (bounded and deterministic):

- Signal. Each interaction compares the match acted on with the other matches of the same search (the
  "alternatives"; when there are none, a neutral 0.5 per factor):
  ``diff[f] = match.factor_scores[f] − mean(alternatives.factor_scores[f])``.
  Accept → direction +1 (more of what this match had), reject → −1 (less of it), feedback with rating r →
  (r − 3) / 2 (5★ = +1, 1★ = −1, 3★ = no change).
- Step. ``w[f] ← w[f] + η · direction · diff[f]`` with η = 0.05.
- Bounds. Every weight stays within [0.5 ×, 2 ×] its base weight (the customer's custom weight, or the
  platform default when they set none); then the vector is renormalised to sum to 1. Bounds and sum are
  satisfied together by projecting: ``w'[f] = clamp(s · w[f], lo[f], hi[f])`` with the scale s found by
  bisection so that Σ w' = 1 (it exists because Σ lo = 0.5 ≤ 1 ≤ 2 = Σ hi). A factor the customer set to 0
  stays 0.
- Storage. The result is stored as `MatchingPreference.learned_weights` and used for the customer's next
  searches (and recorded in each Match's `weights_used`). Saving new custom weights resets learning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from matching.scoring import DEFAULT_WEIGHTS, FACTORS

LEARNING_RATE = 0.05
LOWER_BOUND_FACTOR = 0.5
UPPER_BOUND_FACTOR = 2.0
NEUTRAL_SCORE = 0.5


def signal_direction(*, action: str, rating: int | None = None) -> float:
    if action == "accept":
        return 1.0
    if action == "reject":
        return -1.0
    if action == "feedback" and rating is not None:
        return (rating - 3) / 2
    raise ValueError(f"unknown learning action {action!r}")


def factor_differences(
    chosen: Mapping[str, float], alternatives: Iterable[Mapping[str, float]]
) -> dict[str, float]:
    alternatives = list(alternatives)
    diffs = {}
    for name in FACTORS:
        if alternatives:
            baseline = sum(float(a.get(name, 0.0)) for a in alternatives) / len(alternatives)
        else:
            baseline = NEUTRAL_SCORE
        diffs[name] = float(chosen.get(name, 0.0)) - baseline
    return diffs


def project_weights(weights: Mapping[str, float], base: Mapping[str, float]) -> dict[str, float]:
    """Clamp to [0.5·base, 2·base] per factor and rescale to sum 1 (see module docstring)."""
    lo = {f: LOWER_BOUND_FACTOR * base[f] for f in FACTORS}
    hi = {f: UPPER_BOUND_FACTOR * base[f] for f in FACTORS}
    raw = {f: max(0.0, float(weights.get(f, 0.0))) for f in FACTORS}

    def projected(scale: float) -> dict[str, float]:
        return {f: min(hi[f], max(lo[f], scale * raw[f])) for f in FACTORS}

    low, high = 0.0, 1.0
    while sum(projected(high).values()) < 1.0 and high < 1e9:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        if sum(projected(mid).values()) < 1.0:
            low = mid
        else:
            high = mid
    result = projected(high)
    # Bisection leaves a residue around 1e-15; put it on the largest weight that has room.
    residue = 1.0 - sum(result.values())
    for name in sorted(FACTORS, key=lambda f: -result[f]):
        adjusted = result[name] + residue
        if lo[name] <= adjusted <= hi[name]:
            result[name] = adjusted
            break
    return result


def updated_weights(
    *,
    current: Mapping[str, float],
    base: Mapping[str, float] | None,
    chosen_scores: Mapping[str, float],
    alternative_scores: Iterable[Mapping[str, float]],
    direction: float,
    learning_rate: float = LEARNING_RATE,
) -> dict[str, float]:
    """One learning step (pure)."""
    base = dict(base or DEFAULT_WEIGHTS)
    diffs = factor_differences(chosen_scores, alternative_scores)
    stepped = {
        f: float(current.get(f, base[f])) + learning_rate * direction * diffs[f] for f in FACTORS
    }
    return project_weights(stepped, base)

"""`build_index` with the running KB as `previous`: unchanged points reused, the result equal to a full compile."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from fundguard.agent.engine import CompiledKB, KbInvalid, build_index


def _shape(kb: CompiledKB) -> tuple[list[str], dict[str, list[str]]]:
    """What a check reads of the indexes: the points in order and each code's points in order (by kp_id)."""
    return list(kb.points), {code: list(ids) for code, ids in kb.ids_by_code.items()}


def _revised(bundle: dict[str, Any], seed: int) -> dict[str, Any]:
    """A new revision: some points changed (text, codes dropped or gained), some withdrawn, some added."""
    rng = random.Random(seed)
    doc = copy.deepcopy(bundle)
    doc["revision"] = int(doc["revision"]) + 1
    points: list[dict[str, Any]] = doc["points"]
    spare = [p["codes"][0] for p in rng.sample(points, 40)]
    for point in rng.sample(points, 300):
        point["item_name"] = f"{point.get('item_name') or ''}（修订）"
        if len(point["codes"]) > 1 and rng.random() < 0.5:
            point["codes"] = point["codes"][:-1]
        elif rng.random() < 0.3:
            point["codes"] = [*point["codes"], rng.choice(spare)]
    for index in sorted(rng.sample(range(len(points)), 50), reverse=True):
        del points[index]
    for n, template in enumerate(rng.sample(points, 60)):
        added = copy.deepcopy(template)
        added["kp_id"] = f"KP-ADDED-{n:03d}"
        added["codes"] = [*added["codes"][:1], rng.choice(spare)]
        points.insert(rng.randrange(len(points) + 1), added)
    return doc


def test_a_revised_bundle_compiles_to_what_a_full_compile_gives(default_bundle: dict[str, Any]) -> None:
    """Changed, withdrawn and added points (some gaining, some losing codes): the incremental compile's points and
    by_code tuples are exactly the full compile's, in the same order."""
    running = build_index(default_bundle)
    for seed in range(3):
        revised = _revised(default_bundle, seed)
        assert _shape(build_index(revised, None, running)) == _shape(build_index(revised))


def test_unchanged_points_are_reused_and_changed_ones_compiled_anew(default_bundle: dict[str, Any]) -> None:
    """A point whose JSON is unchanged is the running KB's object; a changed one is a new object with the new text."""
    running = build_index(default_bundle)
    revised = copy.deepcopy(default_bundle)
    revised["revision"] = int(revised["revision"]) + 1
    changed = revised["points"][7]
    changed["item_name"] = "改名"
    kb = build_index(revised, None, running)
    kept = revised["points"][8]["kp_id"]
    assert kb.points[kept] is running.points[kept]
    assert kb.points[changed["kp_id"]] is not running.points[changed["kp_id"]]
    assert kb.points[changed["kp_id"]].item_name == "改名"
    assert kb.revision == str(revised["revision"])


def test_an_identical_bundle_shares_the_code_index(default_bundle: dict[str, Any]) -> None:
    """Nothing changed but the revision: every point and the code index itself are reused."""
    running = build_index(default_bundle)
    again = build_index({**default_bundle, "revision": int(default_bundle["revision"]) + 1}, None, running)
    assert all(again.points[kp] is running.points[kp] for kp in running.points)
    assert again.ids_by_code is running.ids_by_code


def test_new_parameters_recompile_every_point(default_bundle: dict[str, Any]) -> None:
    """Compiled parameters may depend on the KB parameters (the child age): when they change nothing is reused."""
    running = build_index(default_bundle)
    kb = build_index(default_bundle, {"child_below_years": 14}, running)
    assert kb.params.child_below_years == 14
    assert not any(kb.points[kp] is running.points[kp] for kp in running.points)
    assert _shape(kb) == _shape(build_index(default_bundle, {"child_below_years": 14}))


def test_reordered_points_still_give_the_full_compiles_order(default_bundle: dict[str, Any]) -> None:
    """The same points in another order: reused, but the code index follows the new bundle order."""
    running = build_index(default_bundle)
    shuffled = copy.deepcopy(default_bundle)
    random.Random(5).shuffle(shuffled["points"])
    assert _shape(build_index(shuffled, None, running)) == _shape(build_index(shuffled))


@pytest.mark.parametrize("with_previous", [False, True])
def test_a_duplicate_kp_id_is_refused_naming_the_second(default_bundle: dict[str, Any], with_previous: bool) -> None:
    """Two points with one kp_id: KbInvalid at points[i].kp_id of the second, with or without a running KB."""
    doc = copy.deepcopy(default_bundle)
    doc["points"].append(copy.deepcopy(doc["points"][3]))
    previous = build_index(default_bundle) if with_previous else None
    with pytest.raises(KbInvalid) as caught:
        build_index(doc, None, previous)
    assert caught.value.field == f"points[{len(doc['points']) - 1}].kp_id"

"""The member registry: how members are built, named on disk, fed, and chosen."""

from __future__ import annotations

import numpy as np
import pytest

from ser_img.ensemble.settings import TrainSettings
from ser_img.errors import UsageError
from ser_img.members.heads import LgbmHead, LogisticHead, XgbHead
from ser_img.members.registry import CNN, REGISTRY, members_for, needs_cnn


def test_build_applies_registry_defaults_then_overrides_and_the_seed():
    smile = REGISTRY["smile"].build(None, seed=4)
    assert isinstance(smile, LogisticHead) and smile.C == 0.003 and smile.seed == 4
    xgb = REGISTRY["xgb"].build({"max_depth": 2, "rounds": 7}, seed=1)
    assert isinstance(xgb, XgbHead) and (xgb.max_depth, xgb.rounds, xgb.seed) == (2, 7, 1)
    assert xgb.learning_rate == XgbHead().learning_rate


@pytest.mark.parametrize("name", list(REGISTRY))
def test_hyper_parameters_are_the_constructor_less_seed_and_booster(name):
    spec = REGISTRY[name]
    params = spec.hyper_parameters
    assert "seed" not in params and "booster" not in params
    assert set(spec.params) <= set(params)  # the registry's own defaults are hyper-parameters
    spec.build({p: getattr(spec.cls(), p) for p in params}, seed=0)  # every one can be set


def test_train_settings_refuse_a_hyper_parameter_a_member_does_not_have():
    assert TrainSettings(member_params={"lgbm": {"num_leaves": 7}}).member_params["lgbm"] == {"num_leaves": 7}
    with pytest.raises(UsageError, match="lgbm has no hyper-parameter depth"):
        TrainSettings(member_params={"lgbm": {"depth": 3}})
    with pytest.raises(UsageError, match="unknown members"):
        TrainSettings(member_params={"forest": {}})


def test_file_names_per_fold_and_per_cnn():
    assert REGISTRY["xgb"].file(2, 1) == "xgb_2_1.ubj.gz"
    assert REGISTRY["lgbm"].file(0, 3) == "lgbm_0_3.txt.gz"
    assert REGISTRY["enc"].file(4) == "enc_4.npz"
    assert LgbmHead.file_name.endswith(".txt.gz")


def test_inputs_put_embeddings_and_blocks_side_by_side_in_reading_order():
    features = np.arange(20.0).reshape(2, 10)
    embeddings = np.full((2, 3), -1.0)
    blocks = {"desc": slice(0, 4), "enc": slice(4, 10)}
    mlp = REGISTRY["mlp"].inputs(embeddings, features, blocks)
    np.testing.assert_array_equal(mlp, np.concatenate([embeddings, features[:, :4], features[:, 4:]], axis=1))
    # a block the render settings lack is left out, not an error
    np.testing.assert_array_equal(REGISTRY["mlp"].inputs(embeddings, features, {"desc": slice(0, 4)}),
                                  np.concatenate([embeddings, features[:, :4]], axis=1))
    np.testing.assert_array_equal(REGISTRY["desc"].inputs(None, features, blocks), features[:, :4])


def test_which_members_a_head_trains():
    blocks = {"desc": slice(0, 4)}
    assert REGISTRY["mlp"].usable({}) and not REGISTRY["enc"].usable(blocks)
    assert members_for("stack", blocks, ("cnn", "mlp", "desc", "enc")) == [CNN, "mlp", "desc"]
    assert members_for("stack", blocks, ("desc",)) == ["desc"]
    assert members_for("xgb", blocks, ("desc",)) == [CNN, "xgb"]
    assert needs_cnn(["mlp"]) and needs_cnn([CNN]) and not needs_cnn(["desc", "enc"])

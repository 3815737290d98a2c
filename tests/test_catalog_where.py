"""The --where language of `zoo list models`: what it selects, and the one line it gives for a mistake."""

from __future__ import annotations

import re

import pytest

from zoo.catalog_columns import WHERE_SCALES, WHERE_TYPES, comparable_row
from zoo.errors import UserError
from zoo.where import compile_where

ROWS = [
    {"name": "torchvision/mobilenet_v3_small", "params": 2_542_856, "gmacs": 0.06, "top1": 67.668, "pretrained": True,
     "license": None, "input_size": [3, 224, 224], "res": 224, "plugin": "torchvision"},
    {"name": "timm/resnet50.a1_in1k", "params": 25_557_032, "gmacs": 4.11, "top1": None, "pretrained": True,
     "license": "apache-2.0", "input_size": [3, 224, 224], "res": 224, "plugin": "timm"},
    {"name": "timm/resnet50.fb_ssl_yfcc100m_ft_in1k", "params": 25_557_032, "gmacs": 4.11, "top1": None,
     "pretrained": True, "license": "cc-by-nc-4.0", "input_size": [3, 224, 224], "res": 224, "plugin": "timm"},
    {"name": "timm/vit_huge_patch14_224", "params": 630_764_520, "gmacs": None, "top1": None, "pretrained": False,
     "license": None, "input_size": [3, 224, 224], "res": 224, "plugin": "timm"},
    {"name": "cnn", "params": None, "gmacs": None, "top1": None, "pretrained": False, "license": None,
     "input_size": [3, 32, 32], "res": 32, "plugin": "models"},
]


def names(expression: str) -> list:
    keep, used = compile_where(expression, WHERE_TYPES, WHERE_SCALES)
    return [r["name"] for r in ROWS if keep(comparable_row(r, used))]


def test_units_scale_numbers():
    assert names("params < 10M") == ["torchvision/mobilenet_v3_small"]
    assert names("params >= 2.5e6 and params <= 30000K") == [r["name"] for r in ROWS[:3]]
    assert names("params > 0.6G") == ["timm/vit_huge_patch14_224"]
    assert names("top1 > 60%") == ["torchvision/mobilenet_v3_small"]


def test_a_column_kept_in_billions_takes_its_unit_or_none():
    assert names("gmacs < 1.5G") == names("gmacs < 1.5") == ["torchvision/mobilenet_v3_small"]
    assert names("gmacs > 100M and gmacs < 0.1") == []  # 100M multiply-adds are 0.1 billion
    assert names("gmacs >= 60M") == [r["name"] for r in ROWS[:3]]


def test_a_glob_without_a_slash_matches_inside_namespaces_as_zoo_list_s_pattern_does():
    assert names("name ~ 'resnet50*'") == ["timm/resnet50.a1_in1k", "timm/resnet50.fb_ssl_yfcc100m_ft_in1k"]
    assert names("name ~ 'timm/*' and pretrained") == names("name ~ 'resnet50*'")
    assert names("name ~ 'CNN'") == ["cnn"]


def test_and_binds_tighter_than_or_and_parentheses_group():
    assert names("params < 10M or params > 100M and pretrained") == ["torchvision/mobilenet_v3_small"]
    assert names("(params < 10M or params > 100M) and not pretrained") == ["timm/vit_huge_patch14_224"]
    assert names("not (plugin = 'timm' or plugin = 'models')") == ["torchvision/mobilenet_v3_small"]


def test_unknown_figures_match_no_comparison():
    assert names("gmacs < 100") == [r["name"] for r in ROWS[:3]]  # vit and cnn: gmacs unknown
    assert names("gmacs >= 100") == []
    assert names("license != 'mit'") == ["timm/resnet50.a1_in1k", "timm/resnet50.fb_ssl_yfcc100m_ft_in1k"]
    assert "cnn" in names("not gmacs < 100")


def test_a_column_alone_means_known_or_true():
    assert names("top1") == ["torchvision/mobilenet_v3_small"]
    assert names("pretrained and license") == ["timm/resnet50.a1_in1k", "timm/resnet50.fb_ssl_yfcc100m_ft_in1k"]
    assert names("pretrained = false") == ["timm/vit_huge_patch14_224", "cnn"]


def test_text_compares_without_case_and_globs():
    assert names("name ~ 'TIMM/resnet50.*'") == ["timm/resnet50.a1_in1k", "timm/resnet50.fb_ssl_yfcc100m_ft_in1k"]
    assert names('license = "Apache-2.0"') == ["timm/resnet50.a1_in1k"]
    assert names("license ~ 'cc-by-nc*'") == ["timm/resnet50.fb_ssl_yfcc100m_ft_in1k"]
    assert names("input_size = '3x32x32'") == ["cnn"]
    assert names("res < 224") == ["cnn"]


@pytest.mark.parametrize("expression, message", [
    ("parms < 10M", r"unknown column 'parms' \(did you mean 'params'\?\) at position 1 of 'parms < 10M'; "
                    r"columns: name, params, gmacs, top1, .*"),
    ("params < 10X", r"unknown unit 'X' in '10X' at position 10 of 'params < 10X'; units: K \(10\^3\), M"),
    ("params < 10M and", r"expected a column name, got the end at position 17"),
    ("(params < 10M", r"expected '\)' to close the '\(' at position 1, got the end at position 14"),
    ("params < 10M top1", r"expected 'and', 'or' or the end, got 'top1' at position 14"),
    ("name < 10M", r"name holds text values; 10M is a number value at position 8"),
    ("license = mit", r"'mit' after license = is not a value at position 11 .*; a string is quoted: 'mit'"),
    ("params ~ 'a*'", r"params holds number values; 'a\*' is a text value"),
    ("pretrained > true", r"pretrained is true or false: compare it with = or !="),
    ("name ~ 'abc", r"an unclosed quote at position 8"),
    ("", r"an empty expression"),
    ("__import__('os').system('touch x')", r"unexpected character '\.' at position 17|unknown column '__import__'"),
])
def test_a_mistake_is_one_line_naming_it_and_its_position(expression, message):
    with pytest.raises(UserError) as err:
        compile_where(expression, WHERE_TYPES)
    text = str(err.value)
    assert "\n" not in text and text.startswith("--where: ")
    assert re.search(message, text), text


def test_sort_orders_input_sizes_and_means_as_numbers_unknown_last():
    from zoo.catalog_columns import sort_rows

    rows = [{"name": n, "input_size": s, "mean": m} for n, s, m in (
        ("a", [3, 224, 224], [0.485, 0.456, 0.406]), ("b", [3, 1024, 1024], [0.5, 0.5, 0.5]),
        ("c", None, None), ("d", [1, 32, 32], [0.1307]), ("e", [3, 224, 256], [0.0, 0.0, 0.0]))]
    assert [r["name"] for r in sort_rows(rows, "input_size")] == ["d", "a", "e", "b", "c"]
    assert [r["name"] for r in sort_rows(rows, "-input_size")] == ["b", "e", "a", "d", "c"]
    assert [r["name"] for r in sort_rows(rows, "mean")] == ["e", "d", "a", "b", "c"]

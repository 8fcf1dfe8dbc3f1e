"""Names turned into other names, as Ruby Foobara turns them."""

from __future__ import annotations

from foobara_py.naming import classify, humanize, underscore


def test_underscore() -> None:
    assert underscore("Shop::Inventory::ReserveStock") == "shop::inventory::reserve_stock"
    assert underscore("HTTPServer") == "http_server"
    assert underscore("ChargeCard") == "charge_card"
    assert underscore("Html5Parser") == "html5_parser"


def test_classify() -> None:
    assert classify("cannot_exceed64_characters") == "CannotExceed64Characters"
    assert classify("fetch_github_user") == "FetchGithubUser"
    assert classify("__private__name") == "PrivateName"
    assert classify("already_camelCase") == "AlreadyCamelCase"


def test_humanize() -> None:
    assert humanize("division_by_zero") == "Division by zero"
    assert humanize("_leading") == "Leading"

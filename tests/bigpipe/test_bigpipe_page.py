"""The page file and its template (bridge.bigpipe.page), and ``page:`` routes in the config."""
import json

import pytest

from bridge.bigpipe.page import PageError, load_page, parse_template
from bridge.config import ConfigError, load, parse_route

TEMPLATE = ('<!DOCTYPE html><html><head><title>t</title></head><body>\n'
            '<div data-pagelet="feed"></div>\n<div class="side" data-pagelet=\'ads\'>  </div>\n</body></html>\n')


def write_page(directory, doc, template=TEMPLATE, name="page.json"):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "page.html").write_text(template)
    (directory / name).write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return directory / name


def test_the_issue_format_with_the_template_relative_to_the_file(tmp_path, monkeypatch):
    # The format pinned by issue 9, verbatim, plus a second pagelet with the defaults.
    doc = {"template": "page.html", "mode": "arrival", "pagelets": [
        {"id": "feed", "endpoints": ["tcp://127.0.0.1:7001"], "timeout": 2.0,
         "fallback": "<p>Feed unavailable</p>", "required": False},
        {"id": "ads", "endpoints": ["tcp://127.0.0.1:7002", "tcp://127.0.0.1:7003"]}]}
    path = write_page(tmp_path / "site", doc)
    monkeypatch.chdir(tmp_path)                 # the template is found next to the file, not in the cwd
    page = load_page("site/page.json")
    assert page.mode == "arrival"
    feed, ads = page.pagelets
    assert (feed.id, feed.endpoints, feed.timeout, feed.fallback, feed.required) == (
        "feed", ("tcp://127.0.0.1:7001",), 2.0, "<p>Feed unavailable</p>", False)
    assert (ads.endpoints, ads.timeout, ads.fallback, ads.required) == (
        ("tcp://127.0.0.1:7002", "tcp://127.0.0.1:7003"), 5.0, "", False)
    assert page.template.placeholder_ids == ["feed", "ads"]
    route = parse_route(f"/shop/=page:{path}")
    assert route.kind == "page" and route.target.page.pagelets == page.pagelets


def test_template_cut_points():
    template = parse_template(TEMPLATE)
    assert template.head == "<!DOCTYPE html><html><head><title>t</title>"
    assert template.tail == "</body></html>\n"
    assert template.body == (("text", "</head><body>\n"),
                             ("pagelet", "feed", '<div data-pagelet="feed">'), ("text", "\n"),
                             ("pagelet", "ads", "<div class=\"side\" data-pagelet='ads'>"), ("text", "\n"))


@pytest.mark.parametrize("template, message", [
    ("<html><body><div data-pagelet=\"feed\"></div></body></html>", "no </head>"),
    ("<html><head></head><div data-pagelet=\"feed\"></div></html>", "no </body>"),
    ("<html><head></head><body><div data-pagelet=\"feed\">x</div></body></html>", "must be empty"),
    ("<html><head></head><body><span data-pagelet=\"feed\"></span></body></html>", "not on an empty <div>"),
    ("<html><head></head><body><div data-pagelet=\"feed\"></div><div data-pagelet=\"feed\"></div>"
     "</body></html>", "more than once"),
    ("<html><head><meta data-pagelet=\"x\"></head><body></body></html>", "before </head>"),
])
def test_bad_templates(template, message):
    with pytest.raises(PageError, match=message):
        parse_template(template)


GOOD = {"id": "feed", "endpoints": ["tcp://127.0.0.1:7001"]}
ADS = {"id": "ads", "endpoints": ["tcp://127.0.0.1:7002"]}


@pytest.mark.parametrize("doc, message", [
    ("{not json", "page file"),
    ({"pagelets": [GOOD, ADS]}, "needs \"template\""),
    ({"template": "missing.html", "pagelets": [GOOD, ADS]}, "missing.html"),
    ({"template": "page.html", "pagelets": []}, "non-empty list"),
    ({"template": "page.html", "pagelets": [GOOD, ADS], "colour": 1}, "unknown key 'colour'"),
    ({"template": "page.html", "mode": "fast", "pagelets": [GOOD, ADS]}, "mode 'fast'"),
    ({"template": "page.html", "pagelets": [GOOD]}, "placeholder 'ads' is not a declared pagelet"),
    ({"template": "page.html", "pagelets": [GOOD, ADS, {**ADS, "id": "more"}]}, "'more' has no"),
    ({"template": "page.html", "pagelets": [GOOD, ADS, GOOD]}, "declared twice"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "endpoints": []}]}, "endpoints"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "endpoints": ["localhost"]}]}, "endpoints"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "timeout": 0}]}, "timeout"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "timeout": "2"}]}, "timeout"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "required": "yes"}]}, "required"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "fallback": 3}]}, "fallback"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "id": "a\"b"}]}, "id"),
    ({"template": "page.html", "pagelets": [GOOD, {**ADS, "priority": 1}]}, "unknown key 'priority'"),
])
def test_bad_page_files(tmp_path, doc, message):
    path = write_page(tmp_path, doc)
    with pytest.raises(PageError, match=message) as info:
        load_page(str(path))
    assert str(path) in str(info.value)         # messages name the file
    with pytest.raises(ConfigError, match=message):
        parse_route(f"/p/=page:{path}")


def test_config_file_routes_and_errors(tmp_path):
    page = write_page(tmp_path / "site", {"template": "page.html", "mode": "declared", "pagelets": [GOOD, ADS]})
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps({"routes": [
        f"/a/=page:{page}", {"prefix": "/b/", "target": f"page:{page}", "host": "example.com"}]}))
    routes = load(str(config)).routes
    assert [(r.prefix, r.kind, r.host, r.target.page.mode) for r in routes] == [
        ("/a/", "page", None, "declared"), ("/b/", "page", "example.com", "declared")]
    with pytest.raises(ConfigError, match="page needs a page file"):
        parse_route("/p/=page:")
    with pytest.raises(ConfigError, match="No such file"):
        parse_route(f"/p/=page:{tmp_path}/absent.json")

"""Thousands of generated events at the handler: every answer is a valid Kakao reply within the limits."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot_lambda import replies
from chatbot_lambda.app import SkillApp
from chatbot_lambda.settings import Settings
from tests.support import chatbot_mart
from tests.support.skill_calls import REQUEST_KEY, http_api_event, rest_api_event

NAMES = ["BLACKPINK", "블랙핑크", "Red Velvet", "IU", "Artist 7", "artist 150", "blakpink", "twicee"]

texts = st.one_of(
    st.sampled_from(NAMES),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=300),
    st.builds(lambda name, noise: name + noise, st.sampled_from(NAMES), st.text(max_size=5)),
    st.just("x" * 10_000),
    st.sampled_from(["'; DROP TABLE artists; --", "%", "_%_", "\x00", "\u200b", "🎵" * 300, "\n\n\n"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@st.composite
def skill_bodies(draw) -> str:
    kind = draw(st.sampled_from(["kakao", "kakao", "kakao", "junk-json", "text", "partial"]))
    if kind == "kakao":
        body = {
            "userRequest": {"utterance": draw(texts), "user": {"id": draw(st.text(max_size=20))}},
            "action": {
                "params": draw(
                    st.one_of(
                        st.just({}),
                        st.fixed_dictionaries({"artist": texts}),
                        st.dictionaries(st.text(max_size=5), json_values, max_size=2),
                    )
                )
            },
        }
        return json.dumps(body, ensure_ascii=draw(st.booleans()))
    if kind == "partial":
        return json.dumps({"userRequest": draw(json_values), "action": draw(json_values)})
    if kind == "junk-json":
        return json.dumps(draw(json_values))
    return draw(st.text(max_size=200))


@st.composite
def events(draw) -> object:
    if draw(st.integers(0, 30)) == 0:
        return draw(json_values)  # not an API Gateway event at all
    make = draw(st.sampled_from([http_api_event, rest_api_event]))
    body = draw(skill_bodies())
    event = make(
        body,
        draw(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=2)),
        base64_body=draw(st.booleans()),
    )
    if draw(st.integers(0, 20)) == 0:
        event["body"] = base64.b64encode(draw(st.binary(max_size=50))).decode()
        event["isBase64Encoded"] = True
    return event


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("property") / "mart.db"
    from mart import serving

    conn = serving.connect(f"jdbc:sqlite:{path}")
    chatbot_mart.fill(conn, "sqlite", 200)
    conn.close()
    skill = SkillApp(Settings.from_env({"REQUEST_KEY": REQUEST_KEY, "MART_URL": f"jdbc:sqlite:{path}"}))
    yield skill
    skill.repository.close()


@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(event=events())
def test_every_generated_event_gets_a_valid_kakao_reply(sqlite_app, event):
    response = sqlite_app.handle(event)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("application/json")
    reply = json.loads(response["body"])
    assert replies.problems(reply) == [], (replies.problems(reply), reply)
    for output in reply["template"]["outputs"]:
        if "carousel" in output:
            assert len(output["carousel"]["items"]) <= replies.MAX_CARDS

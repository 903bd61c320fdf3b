"""Ask the chatbot from a shell, through the Lambda handler, and see its Kakao reply.

python -m chatbot_lambda --mart jdbc:sqlite:data/mart.db "BLACKPINK"
python -m chatbot_lambda --mart jdbc:sqlite:data/mart.db --popular     # the mart's most popular artist
python -m chatbot_lambda --mart jdbc:sqlite:data/mart.db --popular-hangul   # ... with a Hangul name
python -m chatbot_lambda ... --json                                     # the raw skill response
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from urllib.parse import unquote

from chatbot_lambda import handler
from chatbot_lambda.serve import http_api_event
from chatbot_lambda.settings import DEFAULT_MART_URL
from shared.hangul import is_syllable
from shared.version import program_parser


def readable(url: str) -> str:
    """``url`` with its percent-escapes decoded, as a browser's address bar shows it (the reply keeps them)."""
    return unquote(url)


def render(reply: dict) -> str:
    """A Kakao reply as a person would read it in the chat, one line per text, card item and quick reply."""
    lines = []
    template = reply.get("template", {})
    for output in template.get("outputs", []):
        if "simpleText" in output:
            lines.append(output["simpleText"]["text"])
        for card in output.get("carousel", {}).get("items", []):
            lines.append(f"[{card['header']['title']}]")
            for item in card.get("items", []):
                about = f" ({item['description']})" if item.get("description") else ""
                lines.append(f"  ♪ {item['title']}{about}  {readable(item.get('link', {}).get('web', ''))}")
            for button in card.get("buttons", []):
                target = readable(button.get("webLinkUrl", "")) or f"says {button.get('messageText', '')!r}"
                lines.append(f"  <{button['label']}> {target}")
    quick = [q["label"] for q in template.get("quickReplies", [])]
    if quick:
        lines.append("quick replies: " + " | ".join(quick))
    return "\n".join(lines)


def _popular_artist(repository, hangul: bool) -> tuple[str, str] | None:
    """The mart's most popular artist, or with ``hangul`` the most popular whose name is Hangul (the most
    popular one when none of the first 200 is: a catalogue without Korean names still gets its answer)."""
    if hangul:
        found = repository.most_popular_named(lambda name: any(is_syllable(ch) for ch in name))
        if found is not None:
            return found
        print("(no Hangul name among the 200 most popular artists: asking about the most popular one)", file=sys.stderr)
    found = repository.popular(1)
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = program_parser(
        "python -m chatbot_lambda",
        description="Send one message to the chatbot (the Lambda handler, locally) "
        "and print its reply. Settings come from the environment as on Lambda "
        "(see chatbot_lambda/settings.py).",
    )
    parser.add_argument("text", nargs="*", help="what the user types")
    parser.add_argument("--mart", help=f"mart JDBC URL, overriding MART_URL (default {DEFAULT_MART_URL})")
    parser.add_argument("--popular", action="store_true", help="ask for the mart's most popular artist")
    parser.add_argument(
        "--popular-hangul",
        action="store_true",
        help="ask for the most popular artist with a Hangul name (among the 200 most popular)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw Kakao skill response")
    args = parser.parse_args(argv)
    if not args.text and not args.popular and not args.popular_hangul:
        parser.error("give the text to send, or --popular or --popular-hangul")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.mart:
        os.environ["MART_URL"] = args.mart
    if not os.environ.get("REQUEST_KEY") and not os.environ.get("REQUEST_KEY_SECRET"):
        os.environ["REQUEST_KEY"] = secrets.token_urlsafe(32)  # one message: no user to remember
    text = " ".join(args.text)
    if args.popular or args.popular_hangul:
        try:
            found = _popular_artist(handler.application().repository, args.popular_hangul)
        except Exception as exc:  # the settings or the mart: say which, no traceback
            print(f"cannot read the mart: {exc}", file=sys.stderr)
            return 2
        if found is None:
            print("the mart has no artists with related artists yet: run the similarity job first", file=sys.stderr)
            return 2
        text = found[1]  # (artist_id, name)
    body = json.dumps({"userRequest": {"utterance": text, "user": {"id": "shell"}}}, ensure_ascii=False)
    event = http_api_event("POST", "/skill", {"Content-Type": "application/json"}, body.encode("utf-8"))
    response = handler.lambda_handler(event, None)
    reply = json.loads(response["body"])
    print(f"> {text}")
    print(json.dumps(reply, ensure_ascii=False, indent=2) if args.json else render(reply))
    handler.reset()
    return 0 if response["statusCode"] == 200 else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the chatbot answers to a typed name: the business logic, between the request and the reply.

Paths (the ``outcome`` logged for each answer):

``known``       the mart knows the name (or an alias): a short text and a carousel of the artist's
                card and one card per related artist; quick replies to explore the related ones.
``live``        Spotify knows it, the mart does not: its tracks from Spotify, a note that related
                artists come with the next batch, and a row in artist_requests.
``not_found``   nothing matches: a friendly text with quick replies of the closest mart names.
``queued``      Spotify could not be asked (not configured, down, slow, rate-limited): the request
                is recorded for the next batch and close mart names are suggested.
``welcome``     an empty message; ``too_long`` a message far longer than any name.
``mart_down``   the mart did not answer in time: a friendly "try again".
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from chatbot_lambda import replies
from chatbot_lambda.budget import Deadline, OutOfTime
from chatbot_lambda.kakao import SkillRequest
from chatbot_lambda.replies import Button, ListItem
from chatbot_lambda.repository import MartRepository, MartUnavailable
from chatbot_lambda.spotify import LiveArtist, SpotifyClient, SpotifyUnavailable
from mart import serving

log = logging.getLogger(__name__)

MAX_NAME = 100          # longer messages are not taken for artist names
SHOWN_NAME = 40         # how much of what the user typed is quoted back
MORE_SONGS = "More songs"


@dataclass(frozen=True)
class Answer:
    reply: dict
    outcome: str
    detail: str = ""


def shown(text: str) -> str:
    """What the user typed, safe to quote back: printable characters only, one line, cut short."""
    printable = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return replies.cut(printable, SHOWN_NAME)


def _track_items(artist: str, tracks: list, fallback_url: str) -> list[ListItem]:
    items = [ListItem(t.name, t.album_name or "", t.image_url or "", replies.youtube_search(artist, t.name))
             for t in tracks if t.name]
    return items or [ListItem("Search on YouTube", artist, "", fallback_url)]


def artist_card(name: str, tracks: list) -> dict:
    """A listCard: the artist's name, its tracks opening YouTube searches, a button for all its songs."""
    everything = replies.youtube_search(name)
    return replies.list_card(name, _track_items(name, tracks, everything), [Button(MORE_SONGS, everything)])


def known_reply(cards: list[serving.ArtistCard]) -> dict:
    artist, related = cards[0], [card for card in cards[1:] if card.name]
    text = (f"{artist.name}: top tracks, then {len(related)} artists that sound alike. Tap a song to hear it."
            if related else f"{artist.name}: top tracks. Related artists come after the next update.")
    carousel = replies.list_card_carousel([artist_card(card.name or "", card.tracks) for card in [artist, *related]])
    return replies.skill_response([replies.simple_text(text), carousel], [card.name for card in related])


def live_reply(artist: LiveArtist) -> dict:
    text = (f"{artist.name} is new to me: here are its songs from Spotify. "
            "Related artists come after the next update.")
    carousel = replies.list_card_carousel([artist_card(artist.name, artist.tracks)])
    return replies.skill_response([replies.simple_text(text), carousel])


class Chatbot:
    """Answers one skill request from the mart, and from Spotify for artists the mart lacks."""

    def __init__(self, repository: MartRepository, spotify: SpotifyClient | None):
        self.repository = repository
        self.spotify = spotify

    def answer(self, request: SkillRequest, deadline: Deadline) -> Answer:
        text = request.text
        if not text or not any(ch.isalnum() for ch in text):
            return Answer(self._hint("Type an artist's name to get its top tracks and three artists "
                                     "that sound like it.", deadline), "welcome")
        if len(text) > MAX_NAME:
            return Answer(self._hint("That is longer than any artist's name I know. Type just the name.",
                                     deadline), "too_long")
        try:
            cards = self.repository.find_artist(text)
        except MartUnavailable as exc:
            return Answer(self._try_again(), "mart_down", str(exc))
        if cards:
            return Answer(known_reply(cards), "known", cards[0].artist_id)
        return self._unknown(text, deadline)

    def _unknown(self, text: str, deadline: Deadline) -> Answer:
        if self.spotify is None:
            return self._queued(text, "live lookups are not configured", deadline)
        try:
            live = self.spotify.find_artist(text, deadline, self.repository.settings.tracks_per_card)
        except (SpotifyUnavailable, OutOfTime) as exc:
            return self._queued(text, f"Spotify: {exc}", deadline)
        if live is None:
            return Answer(self._suggest(text, f'I could not find "{shown(text)}" anywhere.', deadline), "not_found")
        try:
            cards = self.repository.find_artist(live.name, deadline)   # typed differently from the mart's name
            if cards:
                return Answer(known_reply(cards), "known", cards[0].artist_id)
            self.repository.record_request(live.name, live.artist_id, deadline)
        except MartUnavailable as exc:
            log.warning("could not record the request for %r: %s", live.name, exc)
        return Answer(live_reply(live), "live", live.artist_id)

    def _queued(self, text: str, why: str, deadline: Deadline) -> Answer:
        try:
            self.repository.record_request(text, None, deadline)
        except MartUnavailable as exc:
            why += f"; could not record the request: {exc}"
        reply = self._suggest(text, f'I do not know "{shown(text)}" yet. I noted it for the next update.',
                              deadline)
        return Answer(reply, "queued", why)

    def _suggest(self, text: str, opening: str, deadline: Deadline) -> dict:
        try:
            close = self.repository.suggestions(text, deadline=deadline)
        except MartUnavailable as exc:
            log.warning("no suggestions: %s", exc)
            close = []
        if close:
            return replies.skill_response([replies.simple_text(f"{opening} Did you mean one of these?")], close)
        return self._hint(f"{opening} Check the spelling and try again.", deadline)

    def _hint(self, text: str, deadline: Deadline) -> dict:
        try:
            names = self.repository.popular(deadline=deadline)
        except MartUnavailable as exc:
            log.warning("no popular names to propose: %s", exc)
            names = []
        return replies.skill_response([replies.simple_text(text)], names)

    @staticmethod
    def _try_again() -> dict:
        return replies.skill_response([replies.simple_text(
            "Sorry, my music shelf is out of reach right now. Please try again in a moment.")])


def sorry_reply() -> dict:
    """The reply for a request that could not be read or answered at all."""
    return replies.skill_response([replies.simple_text(
        "Sorry, I could not read that message. Type an artist's name to get its top tracks.")])

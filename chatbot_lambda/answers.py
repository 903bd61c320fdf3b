"""What the chatbot answers to a message: the business logic, between the request and the reply.

Paths (the ``outcome`` logged for each answer):

``known``       the mart knows the name (or an alias, a name inside a sentence, a distinctive word
                of one name, 초성 of one name, or the artist a tapped button names): a short text and
                a carousel of the artist's card and one card per related artist (as many as the
                cards show), each related card opening with why it was chosen (its ``reason``:
                the sound, the listeners, or both); quick replies and a button on each related
                card ask about that artist. Where users are verified, the artist asked about is
                counted for this user and day (``chat_listens``, bounded; never delays or changes
                the answer beyond one bounded write).
``live``        Spotify knows it, the mart does not: its tracks from Spotify, a note that related
                artists come with the next batch, and a row in artist_requests.
``offer``       Spotify's hit is written in another script (아이유 -> IU): it is offered; where users
                are verified, the user's tap on "네, 맞아요" (a quick reply signed for that user,
                for a few minutes) counts once as that user's confirmation of the alias
                (``alias_confirmations``; the ingest decides what is learned); ``declined`` when
                the user says no.
``suggested``   no artist has the name, but a mart name is close to it (a typo: ``rasowa rawq``, 블랙핑그,
                similarity ``matching.DID_YOU_MEAN``) and Spotify has no artist of that very name (or
                cannot be asked): "혹시 … 찾으셨나요?" with that name first among the quick replies. Never
                recorded: a typo is not a request.
``not_found``   nothing matches: a friendly text with quick replies of the closest mart names.
``queued``      Spotify could not be asked (not configured, down, slow, rate-limited) and no mart name is
                that close: the name is recorded for the next batch and close mart names are suggested.
``welcome``, ``small_talk``, ``thanks``: an empty message, a greeting, laughter, thanks (never
                searched or recorded); ``too_long`` a message far longer than any name;
                ``sentence`` a message that reads as a Korean sentence (배고파요) and names nothing
                the mart knows (never searched or recorded).
``mart_down``   the mart did not answer in time: a friendly "try again".

What the user typed is quoted back as typed (``Utterance.typed``: a 초성 query stays ㄴㄹㅂ), while the
normalized name is what is matched, searched and recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass

from chatbot_lambda import matching, replies
from chatbot_lambda.budget import Deadline, OutOfTime
from chatbot_lambda.kakao import SkillRequest
from chatbot_lambda.messages import Messages, language
from chatbot_lambda.replies import Button, ListItem, QuickReply
from chatbot_lambda.repository import MartRepository, MartUnavailable
from chatbot_lambda.spotify import LiveArtist, SpotifyClient, SpotifyUnavailable, distinct_tracks
from chatbot_lambda.utterance import read
from mart import requests, serving
from shared.names import visible

log = logging.getLogger(__name__)

MAX_TEXT = 100  # longer messages are not taken for artist names
SHOWN_NAME = 40  # how much of what the user typed is quoted back
SHOWN_IN_REASON = 16  # how much of the asked artist's name a related card's reason quotes
RELATED_CARDS = replies.MAX_CARDS - 1
_ARTIST_ID = re.compile(r"\A[A-Za-z0-9_.:-]{1,64}\Z")
_SPOTIFY_ID = re.compile(r"\A[0-9A-Za-z]{22}\Z")
_SIGNATURE = re.compile(r"\A[0-9a-f]{32}\Z")


@dataclass(frozen=True)
class Answer:
    reply: dict
    outcome: str
    detail: str = ""
    artist_id: str = ""  # a known answer's artist (the one asked about)


def shown(text: str) -> str:
    """What the user typed, safe to quote back: visible characters only (``shared.names.visible``), one
    line, cut short."""
    return replies.cut(visible(text), SHOWN_NAME)


def ask_about(artist_id: str, name: str) -> QuickReply:
    """A quick reply that asks about an artist: its name as the message, its id in ``extra``."""
    return QuickReply(name, name, {"kind": "artist", "id": artist_id})


def reason_item(say: Messages, asked: str, card: serving.ArtistCard) -> ListItem:
    """The first line of a related artist's card: why it was chosen (its ``reason``, read by
    ``serving.reason_of``: the sound, the listeners, or both) and a note naming the artist asked about
    (cut to ``SHOWN_IN_REASON``), with the related artist's picture, opening a search for its songs."""
    reason = serving.reason_of(card.reason)
    note = say.say(f"item_reason_{reason}_note", artist=replies.cut(asked, SHOWN_IN_REASON))
    return ListItem(
        say.say(f"item_reason_{reason}"), note, card.image_url or "", replies.youtube_search(card.name or "")
    )


def artist_card(
    say: Messages, name: str, tracks: list, artist_id: str | None = None, why: ListItem | None = None
) -> dict:
    """A listCard: the name, distinct tracks opening YouTube searches, a button for all the artist's
    songs and, with ``artist_id`` (a related artist), a button asking the bot about it. ``why`` (a
    related artist's ``reason_item``) comes first, the tracks in the items left."""
    everything = replies.youtube_search(name)
    items = [
        ListItem(t.name, t.album_name or "", t.image_url or "", replies.youtube_search(name, t.name))
        for t in distinct_tracks([t for t in tracks if t.name])
    ]
    items = items or [ListItem(say.say("item_search"), name, "", everything)]
    if why is not None:
        items = [why, *items[: replies.MAX_LIST_ITEMS - 1]]
    if artist_id is None:
        buttons = [Button(say.say("button_more_songs"), everything)]
    else:
        buttons = [
            Button(say.say("button_songs"), everything),
            Button(say.say("button_similar"), message=name, extra={"kind": "artist", "id": artist_id}),
        ]
    return replies.list_card(name, items, buttons)


def related_card(say: Messages, asked: str, card: serving.ArtistCard) -> dict:
    """A related artist's listCard: why it was chosen, its tracks, its buttons."""
    return artist_card(say, card.name or "", card.tracks, card.artist_id, reason_item(say, asked, card))


def known_text(say: Messages, artist: str, related: list[serving.ArtistCard]) -> str:
    """The text above the cards: how many related artists, said as "artists that sound alike" when sound
    chose them all, else as artists to try (each card says why)."""
    if not related:
        return say.say("known_alone", artist=artist)
    by_sound = all(serving.reason_of(card.reason) == "sound" for card in related)
    return say.say("known" if by_sound else "known_mixed", artist=artist, count=len(related))


def known_reply(
    say: Messages, cards: list[serving.ArtistCard], fallback: list[QuickReply] = (), note: str = ""
) -> dict:
    """The artist's card and its related artists' cards (as many as a carousel shows, and the text
    says how many), quick replies asking about each."""
    artist, related = cards[0], [card for card in cards[1:] if card.name][:RELATED_CARDS]
    text = known_text(say, artist.name or "", related)
    carousel = replies.list_card_carousel(
        [artist_card(say, artist.name or "", artist.tracks)]
        + [related_card(say, artist.name or "", card) for card in related]
    )
    chips = [ask_about(card.artist_id, card.name or "") for card in related] or list(fallback)
    return replies.skill_response([replies.simple_text(f"{note} {text}".strip()), carousel], chips)


def live_reply(say: Messages, artist: LiveArtist, fallback: list[QuickReply], note: str = "") -> dict:
    text = f"{note} {say.say('live', artist=artist.name)}".strip()
    carousel = replies.list_card_carousel([artist_card(say, artist.name, artist.tracks)])
    return replies.skill_response([replies.simple_text(text), carousel], fallback)


def sorry_reply(lang: str = "ko") -> dict:
    """The reply for a request that could not be read or answered at all."""
    say = Messages(lang)
    return replies.skill_response([replies.simple_text(say.say("sorry"))], [QuickReply(say.say("reply_help"))])


def too_long_reply(lang: str = "ko") -> dict:
    """The reply for a request far longer than any name (a body too large to read)."""
    say = Messages(lang)
    return replies.skill_response([replies.simple_text(say.say("too_long"))], [QuickReply(say.say("reply_help"))])


class Chatbot:
    """Answers one skill request from the mart, and from Spotify for artists the mart lacks."""

    def __init__(self, repository: MartRepository, spotify: SpotifyClient | None, clock=time.time):
        self.repository = repository
        self.spotify = spotify
        self.settings = repository.settings
        self.clock = clock

    def answer(self, request: SkillRequest, deadline: Deadline) -> Answer:
        turn = _Turn(self, request, deadline)
        try:
            answer = turn.answer()
        except MartUnavailable as exc:
            return Answer(turn.try_again(), "mart_down", str(exc))
        if answer.outcome == "known" and answer.artist_id:
            self.listened(answer.artist_id, request.user_id, deadline)
        return answer

    def listened(self, artist_id: str, user_id: str, deadline: Deadline) -> None:
        """Count a known answer in ``chat_listens`` (``MartRepository.record_listen``: verified users only,
        bounded, within the deadline). Whatever happens there, the answer stays as it is."""
        try:
            self.repository.record_listen(artist_id, user_id, deadline)
        except Exception:  # a side record: no failure of it may cost the user the answer
            log.exception("recording a chat listen of %r failed", artist_id)

    def signature(self, spotify_id: str, name: str, typed: str, user_id: str, expires: int) -> str:
        """The signature of an alias offer's "yes" chip: the artist, its name and what was typed, for one
        user (by the hash of the id) until ``expires`` (minutes since the epoch). Nothing else signs it."""
        user = requests.user_hash(self.settings.request_key, user_id)
        message = f"alias-offer\n{spotify_id}\n{name}\n{typed}\n{user}\n{expires}".encode("utf-8", "replace")
        return hmac.new(self.settings.request_key.encode("utf-8"), message, hashlib.sha256).hexdigest()[:32]

    def minutes(self) -> int:
        """Now, in whole minutes since the epoch (how offers' expiries are written)."""
        return int(self.clock() // 60)


class _Turn:
    """One request being answered: the language, the deadline, and the steps of the paths above."""

    def __init__(self, bot: Chatbot, request: SkillRequest, deadline: Deadline):
        self.bot, self.request, self.deadline = bot, request, deadline
        self.repo = bot.repository
        self.say = Messages(language(request.lang, bot.settings.language))

    def answer(self) -> Answer:
        extra = self.request.extra or {}
        if extra.get("kind") == "artist" and isinstance(extra.get("id"), str) and _ARTIST_ID.match(extra["id"]):
            cards = self.repo.find_by_id(extra["id"])  # the first lookup: always tried
            if cards:
                return self.known_answer(cards)
        if extra.get("kind") == "alias":
            confirmed = self.confirmed(extra)
            if confirmed is not None:
                return confirmed
        if extra.get("kind") == "decline":
            return Answer(self.hint("declined"), "declined")
        raw = self.request.text
        text = visible(raw if len(raw) <= 4 * MAX_TEXT else raw[: 4 * MAX_TEXT + 1])  # invisible: not there
        if not text or not any(ch.isalnum() for ch in text):
            return Answer(self.hint("welcome"), "welcome")
        if len(text) > MAX_TEXT:
            return Answer(self.hint("too_long"), "too_long")
        utterance = read(text)
        cards = self.repo.find_artist(utterance.keys)  # the first lookup (or the second): always tried
        if cards:
            return self.known_answer(cards)
        if utterance.small_talk:
            return Answer(self.hint(utterance.small_talk), utterance.small_talk)
        if not utterance.name:
            return Answer(self.hint("welcome"), "welcome", "a request without a name")
        if utterance.says_something:
            return Answer(self.hint("sentence"), "sentence", "reads as a sentence, not a name")
        return self.unknown(utterance.name, utterance.typed)

    # -- an artist the mart does not know by that name ---------------------------------------------------

    def unknown(self, name: str, typed: str = "") -> Answer:
        """``name`` (normalized: looked up, searched, recorded), ``typed`` as the user wrote it (quoted)."""
        typed = typed or name
        try:
            close, sole = self.repo.suggestions(name, deadline=self.deadline)
        except MartUnavailable as exc:
            log.warning("no suggestions: %s", exc)
            close, sole = [], None
        if sole is not None:
            cards = self.repo.find_by_id(sole.artist_id, self.deadline)
            if cards:
                return self.known_answer(cards, "by a part of its name")
        chips = [ask_about(s.artist_id, s.name) for s in close]
        typo = close[0] if close and close[0].score >= matching.DID_YOU_MEAN else None
        if self.bot.spotify is None:
            if typo is not None:
                return self.suggested(typed, typo, chips, "live lookups are not configured", record=name)
            return self.queued(name, chips, "live lookups are not configured", typed)
        try:
            found = self.bot.spotify.lookup(name, self.deadline, self.bot.settings.tracks_per_card)
        except (SpotifyUnavailable, OutOfTime) as exc:
            if typo is not None:
                return self.suggested(typed, typo, chips, f"Spotify: {exc}", record=name)
            return self.queued(name, chips, f"Spotify: {exc}", typed)
        if found.artist is not None:
            return self.live(found.artist)
        if found.offer is not None:
            return Answer(self.offer(name, found.offer, chips, typed), "offer", found.offer.artist_id)
        if typo is not None:
            return self.suggested(typed, typo, chips, "Spotify found no artist of that name")
        key = "not_found_suggest" if chips else "not_found"
        return Answer(self.text_with_chips(self.say.say(key, typed=shown(typed)), chips), "not_found")

    def suggested(
        self, typed: str, typo: matching.Suggestion, chips: list[QuickReply], why: str, record: str = ""
    ) -> Answer:
        """A typo of a mart name: "혹시 … 찾으셨나요?", the close names as quick replies (that one first).

        With ``record`` (Spotify could not be asked), that name is also recorded for the next batch, in
        case it is a new artist after all; the reply promises nothing either way."""
        if record:
            recorded, why = self.record_unknown(record, why)
            why = f"{why}; recorded for the next batch" if recorded else why
        text = self.say.say("did_you_mean", typed=shown(typed), artist=typo.name)
        return Answer(self.text_with_chips(text, chips), "suggested", f"{typo.artist_id} ({typo.score}); {why}")

    def live(self, artist: LiveArtist, note: str = "") -> Answer:
        """The artist Spotify found (or the user confirmed): from the mart when it knows the artist by
        id or name, else live; recorded either way, under the artist's own name."""
        try:
            cards = self.repo.find_by_id(artist.artist_id, self.deadline) or self.repo.find_artist(
                read(visible(artist.name)).keys[:2], self.deadline
            )
            self.repo.record_request(artist.name, artist.artist_id, self.deadline, self.request.user_id, artist.name)
            if cards:
                return self.known_answer(cards, "via Spotify", note)
        except MartUnavailable as exc:
            log.warning("could not record the request for %r: %s", artist.name, exc)
        return Answer(live_reply(self.say, artist, self.next_steps(), note), "live", artist.artist_id)

    def offer(self, typed: str, artist: LiveArtist, chips: list[QuickReply], echo: str = "") -> dict:
        """Spotify's hit in another script, offered. Where users are verified (``Settings.learning``) the
        "yes" chip carries the typed name, signed for this user until it expires, so that the tap
        counts as this user's confirmation of the alias; elsewhere it only shows the artist. ``echo``:
        the name as the user wrote it, quoted in the text (``typed`` when not given)."""
        echo = echo or typed
        extra = {"kind": "alias", "id": artist.artist_id, "name": artist.name[:MAX_TEXT]}
        if self.bot.settings.learning and self.request.user_id:
            typed = typed[:MAX_TEXT]
            expires = self.bot.minutes() + int(self.bot.settings.alias_offer_minutes)
            extra.update(
                typed=typed,
                exp=expires,
                sig=self.bot.signature(artist.artist_id, extra["name"], typed, self.request.user_id, expires),
            )
        yes = QuickReply(self.say.say("reply_yes"), artist.name, extra)
        no = QuickReply(self.say.say("reply_no"), self.say.say("reply_no"), {"kind": "decline"})
        text = self.say.say("offer", typed=shown(echo), artist=artist.name)
        return replies.skill_response([replies.simple_text(text)], [yes, no, *chips])

    def signed_offer(self, extra: dict) -> tuple[str, str] | None:
        """``(typed, artist name)`` of a "yes" chip the bot signed for this user and that has not expired."""
        spotify_id, name, typed, expires, sig = (extra.get(k) for k in ("id", "name", "typed", "exp", "sig"))
        if not (
            isinstance(name, str)
            and isinstance(typed, str)
            and 0 < len(typed) <= MAX_TEXT
            and type(expires) is int
            and isinstance(sig, str)
            and _SIGNATURE.match(sig)
            and self.request.user_id
        ):
            return None
        if expires < self.bot.minutes():
            return None
        good = self.bot.signature(spotify_id, name, typed, self.request.user_id, expires)
        return (typed, name) if hmac.compare_digest(sig, good) else None

    def confirmed(self, extra: dict) -> Answer | None:
        """The user tapped "yes" on an offer: the artist is shown, and where users are verified the tap
        counts once as this user's confirmation of the alias (``MartRepository.record_confirmation``).
        ``None`` (the message is read as typed text) for a chip the bot did not sign for this user, or
        signed too long ago."""
        spotify_id = extra.get("id")
        if not (isinstance(spotify_id, str) and _SPOTIFY_ID.match(spotify_id)):
            return None
        signed = self.signed_offer(extra)
        if self.bot.settings.learning and signed is None:
            log.warning("ignored a confirmation not offered to this user, or expired: %r", str(extra)[:200])
            return None
        artist = None
        if self.bot.spotify is not None:
            try:
                artist = self.bot.spotify.artist_by_id(spotify_id, self.deadline, self.bot.settings.tracks_per_card)
            except (SpotifyUnavailable, OutOfTime) as exc:
                log.warning("confirmed %s, but Spotify: %s", spotify_id, exc)
        if artist is None and signed is None:
            return None  # an unsigned chip's name is only what the message says: not shown as the artist
        if artist is None:
            artist = LiveArtist(spotify_id, signed[1], "", "")
        note = ""
        if signed is not None:
            try:
                if (
                    self.repo.record_confirmation(signed[0], spotify_id, self.request.user_id, self.deadline)
                    == "confirmed"
                ):
                    note = self.say.say("learned", typed=shown(signed[0]))
            except MartUnavailable as exc:
                log.warning("could not record the confirmation of %r: %s", signed[0], exc)
        return self.live(artist, note)

    def record_unknown(self, name: str, why: str) -> tuple[bool, str]:
        """Record ``name`` (unknown to Spotify's lookup, or not asked) for the next batch: whether it was
        kept, and ``why`` with the mart's failure added, if any."""
        try:
            return self.repo.record_request(name, None, self.deadline, self.request.user_id), why
        except MartUnavailable as exc:
            return False, f"{why}; could not record the request: {exc}"

    def queued(self, name: str, chips: list[QuickReply], why: str, typed: str = "") -> Answer:
        recorded, why = self.record_unknown(name, why)
        key = ("queued" if recorded else "unknown") + ("_suggest" if chips else "")
        return Answer(self.text_with_chips(self.say.say(key, typed=shown(typed or name)), chips), "queued", why)

    # -- replies -----------------------------------------------------------------------------------------

    def known(self, cards: list[serving.ArtistCard], note: str = "") -> dict:
        return known_reply(self.say, cards, self.next_steps() if len(cards) < 2 else [], note)

    def known_answer(self, cards: list[serving.ArtistCard], how: str = "", note: str = "") -> Answer:
        """The ``known`` answer for ``cards`` (the artist first), found ``how`` (logged beside its id)."""
        artist_id = cards[0].artist_id
        return Answer(self.known(cards, note), "known", f"{artist_id} ({how})" if how else artist_id, artist_id)

    def text_with_chips(self, text: str, chips: list[QuickReply]) -> dict:
        return replies.skill_response([replies.simple_text(text)], self.next_steps(chips))

    def next_steps(self, chips: list[QuickReply] = ()) -> list[QuickReply]:
        """``chips``, else popular artists, else a help chip: every answer offers a next step."""
        return list(chips) or self.popular() or [QuickReply(self.say.say("reply_help"))]

    def hint(self, key: str) -> dict:
        return self.text_with_chips(self.say.say(key), [])

    def popular(self) -> list[QuickReply]:
        try:
            return [ask_about(artist_id, name) for artist_id, name in self.repo.popular(deadline=self.deadline)]
        except MartUnavailable as exc:
            log.warning("no popular names to propose: %s", exc)
            return []

    def try_again(self) -> dict:
        extra = self.request.extra if (self.request.extra or {}).get("kind") == "artist" else None
        retry = QuickReply(self.say.say("reply_retry"), self.request.text or self.say.say("reply_help"), extra)
        return replies.skill_response([replies.simple_text(self.say.say("mart_down"))], [retry])

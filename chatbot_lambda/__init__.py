"""The KakaoTalk skill on AWS Lambda: a typed artist in, its top tracks and related artists out.

``handler`` (entry point) -> ``app`` (one per container) -> ``apigw`` and ``kakao`` (requests in),
``utterance`` (what a message asks), ``answers`` (what to say, in the words of ``messages``),
``repository`` (the mart), ``matching`` (suggestions), ``spotify`` (live lookups), ``replies``
(Kakao components within limits). ``serve`` runs it locally as an HTTP skill server with a
browser preview.
"""

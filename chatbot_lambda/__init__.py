"""The KakaoTalk skill on AWS Lambda: a typed artist in, its top tracks and related artists out.

``handler`` (entry point) -> ``app`` (one per container) -> ``apigw`` and ``kakao`` (requests in),
``answers`` (what to say), ``repository`` (the mart), ``spotify`` (live lookups), ``replies``
(Kakao components within limits). ``serve`` runs it locally as an HTTP skill server.
"""

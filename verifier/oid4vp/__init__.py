"""OpenID4VP 1.0: this service as the verifier any relying party asks for a citizen ID presentation.

``requests`` creates and reads presentation requests, ``request_object`` signs what the wallet fetches,
``responses`` verifies what the wallet posts (with the injected credential verification), and ``api`` serves them.
docs/identity.md, "Presenting over OpenID4VP", tells the flow and the choices.
"""

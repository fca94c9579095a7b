"""Triage: severity ratings now; SSVC decisions and deadline policies as versioned data later."""

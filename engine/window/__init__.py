"""The service window's dealings with the applicant after a case: ratings (好差评), complaints and their follow-ups."""

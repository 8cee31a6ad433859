"""Tests of mock_server.media: the face PNGs, the lip-sync MP4s, the audio lengths."""

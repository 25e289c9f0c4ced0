"""A client's media library: images and videos, stored once per content, served privately."""

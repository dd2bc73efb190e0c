"""Thin Lambda handlers: parse the event, call one domain function, shape the response."""

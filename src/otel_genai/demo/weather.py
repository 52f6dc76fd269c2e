"""The demo endpoint's weather scenario, shared by its three APIs (Chat Completions, Responses,
Anthropic Messages): which city a question asks about, the arguments of the weather tool the model
"calls", and an Open-Meteo-shaped ``GET /v1/forecast`` for tools that fetch a temperature.

Everything is deterministic: the same question always gets the same tool call, answer and token
counts (a word count), so the examples print the same figures every run.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .server import Request, Response

DEFAULT_CITY = "Paris"

#: city -> (latitude, longitude, current temperature in °C, wind speed in km/h)
CITIES: dict[str, tuple[float, float, float, float]] = {
    "Paris": (48.8566, 2.3522, 14.3, 11.2),
    "Tokyo": (35.6762, 139.6503, 21.7, 8.6),
    "Sydney": (-33.8688, 151.2093, 24.1, 19.4),
    "London": (51.5072, -0.1276, 12.8, 15.1),
    "New York": (40.7128, -74.006, 17.5, 13.0),
    "Seattle": (47.6062, -122.3321, 11.9, 9.8),
}

_CITY = re.compile(r"\b(?:in|for|at)\s+([A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*)")


def count_tokens(text: str) -> int:
    """The demo's token count: words, at least one."""
    return max(1, len(text.split()))


def city_in(text: Any) -> str:
    """The city a question asks about ("What's the weather like in Tokyo today?" -> "Tokyo")."""
    if isinstance(text, str):
        match = _CITY.search(text)
        if match:
            return match.group(1)
    return DEFAULT_CITY


def tool_arguments(parameters: Any, city: str) -> dict[str, Any]:
    """The arguments the demo model passes to a weather tool with the JSON schema ``parameters``:
    coordinates when it asks for ``latitude``/``longitude``, else the city under its first property."""
    properties = (parameters or {}).get("properties") if isinstance(parameters, dict) else None
    if isinstance(properties, dict) and "latitude" in properties and "longitude" in properties:
        lat, lon = CITIES.get(city, CITIES[DEFAULT_CITY])[:2]
        return {"latitude": lat, "longitude": lon}
    key = next(iter(properties), "city") if isinstance(properties, dict) and properties else "city"
    return {key: city}


def final_answer(city: str, result: Any) -> str:
    """The model's answer once the tool result is back."""
    text = str(result).strip()
    try:
        float(text)
        text = f"{text}°C"
    except ValueError:
        pass
    return f"Right now it is {text}." if city in text else f"Right now it is {text} in {city}."


def forecast(request: Request) -> Response:
    """``GET /v1/forecast?latitude=..&longitude=..&current=temperature_2m,...`` in Open-Meteo's shape."""
    query = parse_qs(urlsplit(request.path).query)
    try:
        lat = float(query["latitude"][0])
        lon = float(query["longitude"][0])
    except (KeyError, ValueError, IndexError):
        return Response(400, b'{"error": true, "reason": "latitude and longitude are required"}',
                        [("Content-Type", "application/json")])
    nearest = min(CITIES.values(), key=lambda c: (c[0] - lat) ** 2 + (c[1] - lon) ** 2)
    body = {
        "latitude": lat,
        "longitude": lon,
        "generationtime_ms": 0.05,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 35.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C", "wind_speed_10m": "km/h"},
        "current": {"time": "2025-11-21T12:00", "interval": 900, "temperature_2m": nearest[2], "wind_speed_10m": nearest[3]},
    }
    return Response(200, json.dumps(body).encode(), [("Content-Type", "application/json")])

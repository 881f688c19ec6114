"""The public record of an assembly: what is published and when, the public pages, the
exports and the signed record bundle."""

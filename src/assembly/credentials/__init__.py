"""Credentials: NMOs, delegates, voting rights, proxies, presence, logins and roles."""

-- Web sessions are now kept under the SHA-256 of the cookie's value, so a copy of the
-- database holds no usable session. Sessions stored under the plain value can no longer be
-- found; they are removed, and their browsers log in again.
delete from web_sessions;

-- When the directory last confirmed a login's account (at the password check, then at each
-- refresh), on every token of its family like `login_ends_at`: while the directory is down a
-- refresh is allowed only within `auth.directory_grace` of it. Logins from before this
-- column get no grace.
alter table tokens add column directory_checked_at bigint;

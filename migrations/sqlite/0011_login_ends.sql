-- The absolute end of a login (`limits.login_lifetime` after the password was checked), on
-- every token of its family, so rotation carries it forward and no token outlives it. Logins
-- from before this column end when their current refresh token expires.
alter table tokens add column login_ends_at bigint;

update tokens set login_ends_at = (
    select max(r.expires_at) from tokens r
    where r.family_id = tokens.family_id and r.kind = 'refresh'
);

create index if not exists sessions_user_id_idx on auth.sessions (user_id);


SET client_min_messages = WARNING; -- suppress "NOTICE: ..." messages which pollute the log
SET check_function_bodies = false; -- to allow conditionals based on the pg version
SET search_path = public;

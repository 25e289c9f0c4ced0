-- Two roles: the owner runs migrations; the app role owns nothing, so row-level
-- security always applies to it. Change the passwords for any real deployment.
CREATE ROLE relais_owner LOGIN PASSWORD 'relais_owner';
CREATE ROLE relais_app LOGIN PASSWORD 'relais_app' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE relais OWNER relais_owner;
\connect relais
ALTER SCHEMA public OWNER TO relais_owner;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

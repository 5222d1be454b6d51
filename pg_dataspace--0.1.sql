/* pg_dataspace--0.1.sql */

\echo Use "CREATE EXTENSION pg_dataspace" to load this file. \quit

REVOKE ALL ON SCHEMA dataspace FROM PUBLIC;

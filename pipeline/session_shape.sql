-- roletrail_session_shape(__name): a RoleSessionName's shape (pipeline/session_shape.py says what
-- a shape is). One SQL expression for every engine: a temporary macro on DuckDB, inlined into the
-- query on Spark and Trino (pipeline.engine.rewrites); no regex back-references, no lookaround
-- (DuckDB's RE2 has none), no backslashes (each engine escapes string literals its own way).
--
-- 1. E-mail addresses become {email}, ISO dates and times {id}.
-- 2. The text is cut into parts: {email}, {id}, a run of separators, or a token (letters, digits,
--    + and =, the characters of a base64 run).
-- 3. Each part gets a code: R a random token, H a token of hex letters only (a word unless it sits
--    next to an id), W any other token, S a separator.
-- 4. Between two W tokens, a run of tokens that holds an R is one id: its H become R.
-- 5. Each R is {id}, except that ids joined by nothing or one separator are one {id}; a W or H
--    token keeps its text with each number as {n}; a separator stays.
case
    when __name is null then null
    else list_transform(
        [
            regexp_extract_all(
                regexp_replace(
                    regexp_replace(__name, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+', '{email}', 'g'),
                    '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}[:.]?[0-9]{2}([:.]?[0-9]{2})?([.,][0-9]+)?Z?)?',
                    '{id}',
                    'g'
                ),
                '[{]email[}]|[{]id[}]|[^A-Za-z0-9+=]+|[A-Za-z0-9+=]+'
            )
        ],
        lambda parts: case
            when array_length(parts) = 0 then ''
            else list_transform(
                [
                    -- the codes, padded so that a part's neighbours are always there to read
                    '..' || array_to_string(
                        list_transform(
                            string_split(
                                array_to_string(
                                    list_transform(
                                        parts,
                                        lambda part: case
                                            when part = '{id}' then 'R'
                                            when part = '{email}' or regexp_matches(part, '^[^A-Za-z0-9+=]') then 'S'
                                            when regexp_matches(part, '^[0-9]+$') then 'R'
                                            -- hex with a digit (not EC2 or S3), or long; hex letters alone may be a word (cafe)
                                            when regexp_matches(part, '^[0-9a-fA-F]+$') then case
                                                when (regexp_matches(part, '[0-9]') and length(part) >= 4) or length(part) >= 8 then 'R'
                                                when regexp_matches(part, '^[a-fA-F]+$') then 'H'
                                                else 'W'
                                            end
                                            -- shorter than a base32/64 run
                                            when length(part) < 16 then 'W'
                                            -- a long run mixing letters with digits, + or =
                                            when regexp_matches(part, '[0-9+=]') then case
                                                when regexp_matches(part, '[A-Za-z]') then 'R'
                                                else 'W'
                                            end
                                            -- 16 or more capitals: base32
                                            when not regexp_matches(part, '[a-z]') then 'R'
                                            -- letters whose camel-case words are at least 30 % one or two letters
                                            -- long (MyRoleSession is three words, not random). A chunk is capitals
                                            -- then small letters (ABCdef: the words AB and Cdef) or trailing capitals.
                                            when 10 * (
                                                array_length(list_filter(
                                                    regexp_extract_all(part, '[A-Z]*[a-z]+|[A-Z]+'),
                                                    lambda chunk: regexp_matches(chunk, '^([a-z]{1,2}|[A-Z]+[a-z]|[A-Z]{1,2})$')
                                                ))
                                                + array_length(list_filter(
                                                    regexp_extract_all(part, '[A-Z]*[a-z]+|[A-Z]+'),
                                                    lambda chunk: regexp_matches(chunk, '^[A-Z]{2,3}[a-z]')
                                                ))
                                            ) >= 3 * (
                                                array_length(regexp_extract_all(part, '[A-Z]*[a-z]+|[A-Z]+'))
                                                + array_length(list_filter(
                                                    regexp_extract_all(part, '[A-Z]*[a-z]+|[A-Z]+'),
                                                    lambda chunk: regexp_matches(chunk, '^[A-Z]{2,}[a-z]')
                                                ))
                                            ) then 'R'
                                            else 'W'
                                        end
                                    ),
                                    ''
                                ),
                                'W'
                            ),
                            lambda run: case when run like '%R%' then replace(run, 'H', 'R') else run end
                        ),
                        'W'
                    ) || '.'
                ],
                -- part i's code is substr(codes, i + 2, 1); its neighbours are at i + 1 and i + 3
                lambda codes: array_to_string(
                    list_transform(
                        generate_series(1, array_length(parts)),
                        lambda i: case
                            when substr(codes, i + 2, 1) = 'R'
                                and (
                                    substr(codes, i + 1, 1) = 'R'
                                    or (substr(codes, i + 1, 1) = 'S' and substr(codes, i, 1) = 'R')
                                ) then ''
                            when substr(codes, i + 2, 1) = 'S'
                                and substr(codes, i + 1, 1) = 'R'
                                and substr(codes, i + 3, 1) = 'R' then ''
                            when substr(codes, i + 2, 1) = 'R' then '{id}'
                            when substr(codes, i + 2, 1) = 'S' then parts[i]
                            else regexp_replace(parts[i], '[0-9]+', '{n}', 'g')
                        end
                    ),
                    ''
                )
            )[1]
        end
    )[1]
end

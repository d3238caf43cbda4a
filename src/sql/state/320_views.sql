-- Views for BI tools and analysts.  Built only from visit, person, deal,
-- attribution, report and identity facts (never capture.face, capture.photo or
-- the gallery), so they hold no biometric column and give the same numbers
-- after biometric data is erased.  Days and months are the project's local ones.

-- the agency protection of each person's first touch, while it runs, for
-- persons no deal names (as buyer or co-buyer, or under a person merged into them)
CREATE INDEX deal_person ON deal (project_id, person_id);
-- accompanied first visits by time: the windows that may still run are the
-- recent ones (the view reads them from this index alone, not from every
-- accompanied visit of the agents)
CREATE INDEX visit_first_accompanied ON visit (project_id, started_at) INCLUDE (person_id, agent_id)
	WHERE agent_id IS NOT NULL AND NOT seen_before;
-- and their persons, if not merged away, without visiting the person rows
CREATE INDEX person_current ON person (project_id, person_id) WHERE merged_into IS NULL;

"""Hot topics for the weekly brief (热点问题、热点地区、上升问题), from the period's tickets.

The method: a ticket's title and content, less its own place, are cut into words; TF-IDF over
the period's tickets links tickets at cosine ≥ `similarity`, and each connected component of
`min_cluster` tickets or more is a topic, named by its words of highest summed weight; the
tickets of one topic at one place are a hot spot; a keyword on more tickets than in the weeks
before is rising.

- `words`: the tokenizer (jieba's dictionary matched with numpy), `tokenize`, `STOP_WORDS`.
- `clusters`: TF-IDF vectors and clusters of similar texts, `cluster_texts`, `cluster_keywords`.
- `report`: the results (`Topic`, `HotSpot`, `RisingTopic`, `TopicReport`) and their assembly.
- `queries`: the SQL over the tickets, and `hot_topics`, the entry point.

All but `queries` are pure: no database, no web.
"""

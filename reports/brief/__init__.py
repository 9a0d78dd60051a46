"""The weekly brief (周报): gathered from the KPIs, ranking and topics, rendered, and kept.

- `content`: what a brief holds (`Brief` and its lines), format-free and without personal data.
- `weekly`: `gather` one ISO week into a Brief, `build` it in a format, `store` and list kept ones.
- `layout`: the brief laid out once as sections of blocks, every number written out.
- `charts`: the brief's charts as PNG bytes (matplotlib, no pyplot).
- `render`: HTML (the Jinja2 template in `templates/`) and PDF (WeasyPrint), and `render`.
- `docx_writer`: the brief as a Word document.
"""

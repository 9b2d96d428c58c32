"""Reading and writing plan documents: sprint plans, BMAD story/epic files, sprint-status YAML."""

package r4

// MedicationStatement: R5 keeps only whether the statement is recorded,
// draft or entered in error; R4's finer status (active, completed,
// stopped, …) becomes recorded with the original kept as an extension.
func init() {
	supported["MedicationStatement"] = true
	addToR5("MedicationStatement.status", codeMap(medicationStatementStatusR5, medicationStatementStatusR4))
	addToR4("MedicationStatement.status", codeMap(medicationStatementStatusR4, medicationStatementStatusR5))
	addToR5("MedicationStatement.medication[x]", toCodeableReference("medication"))
	addToR4("MedicationStatement.medication", fromCodeableReference("medication"))
	addToR5("MedicationStatement.reasonCode", mapItems("reason", concept))
	addToR5("MedicationStatement.reasonReference", mapItems("reason", reference))
	addToR4("MedicationStatement.reason", splitCodeableReferences("reasonCode", "reasonReference"))
	addToR5("MedicationStatement.context", rename("encounter"))
	addToR4("MedicationStatement.encounter", rename("context"))
}

var (
	medicationStatementStatusR5 = map[string]string{
		"active": "recorded", "completed": "recorded", "stopped": "recorded", "on-hold": "recorded",
		"unknown": "recorded", "not-taken": "recorded", "intended": "draft", "entered-in-error": "entered-in-error",
	}
	medicationStatementStatusR4 = map[string]string{
		"recorded": "active", "draft": "intended", "entered-in-error": "entered-in-error",
	}
)

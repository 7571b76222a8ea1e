package bench

// The code tables below are small, real subsets of SNOMED CT, ICD-10-CM,
// LOINC, UCUM and RxNorm: enough variety for the search index to have
// realistic selectivity (a few very common codes, a long tail of rare ones).

const (
	systemSNOMED = "http://snomed.info/sct"
	systemICD10  = "http://hl7.org/fhir/sid/icd-10-cm"
	systemLOINC  = "http://loinc.org"
	systemUCUM   = "http://unitsofmeasure.org"
	systemRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
	// MRNSystem is the identifier system of the medical record numbers.
	MRNSystem = "http://hospital.example.org/mrn"
)

// conditionCode is a diagnosis with its coding in SNOMED CT and ICD-10-CM.
type conditionCode struct {
	snomed, icd10, display string
	weight                 int  // relative prevalence
	chronic                bool // stays active; acute ones resolve
	minAge                 int  // rarely diagnosed before this age
	meds                   []int
	labs                   []int // indexes into labCodes, ordered for follow-up
}

var conditionCodes = []conditionCode{
	{"38341003", "I10", "Essential hypertension", 30, true, 30, []int{0, 1}, []int{2, 3, 4}},
	{"44054006", "E11.9", "Type 2 diabetes mellitus", 14, true, 30, []int{2}, []int{0, 1, 2, 14}},
	{"55822004", "E78.5", "Hyperlipidemia", 22, true, 30, []int{3, 4}, []int{5, 6, 7, 8}},
	{"195967001", "J45.909", "Asthma", 8, true, 3, []int{9}, nil},
	{"13645005", "J44.9", "Chronic obstructive pulmonary disease", 5, true, 45, []int{9}, nil},
	{"35489007", "F32.9", "Depressive disorder", 9, true, 14, []int{10}, nil},
	{"197480006", "F41.9", "Anxiety disorder", 8, true, 12, []int{10}, nil},
	{"414545008", "I25.10", "Ischemic heart disease", 5, true, 45, []int{3, 11}, []int{5, 8}},
	{"49436004", "I48.91", "Atrial fibrillation", 4, true, 55, []int{12}, []int{2}},
	{"42343007", "I50.9", "Congestive heart failure", 3, true, 55, []int{13, 0}, []int{2, 3, 4}},
	{"709044004", "N18.9", "Chronic kidney disease", 4, true, 50, []int{0}, []int{2, 14, 15, 4}},
	{"414916001", "E66.9", "Obesity", 12, true, 8, nil, []int{0, 1}},
	{"239873007", "M17.9", "Osteoarthritis of knee", 7, true, 45, []int{6}, nil},
	{"40930008", "E03.9", "Hypothyroidism", 6, true, 20, []int{5}, []int{13}},
	{"37796009", "G43.909", "Migraine", 5, true, 10, []int{6}, nil},
	{"271737000", "D64.9", "Anemia", 5, true, 0, nil, []int{9, 10, 11}},
	{"235595009", "K21.9", "Gastroesophageal reflux disease", 8, true, 18, []int{14}, nil},
	{"279039007", "M54.50", "Low back pain", 10, false, 16, []int{6}, nil},
	{"444814009", "J01.90", "Acute viral sinusitis", 12, false, 0, []int{7}, nil},
	{"195662009", "J02.9", "Acute viral pharyngitis", 10, false, 0, []int{7}, nil},
	{"10509002", "J20.9", "Acute bronchitis", 8, false, 0, []int{8, 7}, []int{10}},
	{"68566005", "N39.0", "Urinary tract infection", 7, false, 2, []int{8}, []int{10}},
	{"233604007", "J18.9", "Pneumonia", 3, false, 0, []int{8}, []int{10, 11}},
	{"22298006", "I21.9", "Myocardial infarction", 1, false, 40, []int{11, 3}, []int{5}},
	{"230690007", "I63.9", "Cerebrovascular accident", 1, false, 50, []int{11}, nil},
	{"62315008", "K52.9", "Gastroenteritis", 5, false, 0, nil, []int{3, 4}},
	{"275272006", "H66.90", "Otitis media", 4, false, 0, []int{7}, nil},
	{"26929004", "G30.9", "Alzheimer's disease", 1, true, 65, nil, nil},
	{"69896004", "M06.9", "Rheumatoid arthritis", 1, true, 25, []int{6}, []int{10}},
	{"73211009", "E10.9", "Type 1 diabetes mellitus", 1, true, 0, []int{15}, []int{0, 1}},
}

// quantityCode is an observation kind with a LOINC code, its UCUM unit and a
// plausible distribution of adult values.
type quantityCode struct {
	loinc, display string
	unit, ucum     string
	mean, sd       float64
	decimals       int
	low, high      float64 // reference range (labs); zero high means none
}

// vitalCodes are taken at most encounters (category vital-signs).
var vitalCodes = []quantityCode{
	{"8867-4", "Heart rate", "beats/minute", "/min", 76, 11, 0, 0, 0},
	{"9279-1", "Respiratory rate", "breaths/minute", "/min", 16, 2, 0, 0, 0},
	{"8310-5", "Body temperature", "Cel", "Cel", 36.8, 0.4, 1, 0, 0},
	{"29463-7", "Body weight", "kg", "kg", 78, 16, 1, 0, 0},
	{"8302-2", "Body height", "cm", "cm", 170, 10, 1, 0, 0},
	{"39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m2", 27, 5, 1, 0, 0},
	{"59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%", 97, 1.5, 0, 0, 0},
}

// Blood pressure is a panel with two components, as the vital signs profile
// requires.
const (
	bpPanelLOINC   = "85354-9"
	bpPanelDisplay = "Blood pressure panel with all children optional"
)

var bpComponents = []quantityCode{
	{"8480-6", "Systolic blood pressure", "mmHg", "mm[Hg]", 124, 16, 0, 0, 0},
	{"8462-4", "Diastolic blood pressure", "mmHg", "mm[Hg]", 79, 10, 0, 0, 0},
}

// labCodes are laboratory results (category laboratory), with reference ranges.
var labCodes = []quantityCode{
	{"2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 95, 15, 0, 70, 99},
	{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%", 5.5, 0.5, 1, 4, 5.6},
	{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0.95, 0.2, 2, 0.6, 1.3},
	{"2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 140, 2.5, 0, 135, 145},
	{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 4.3, 0.4, 1, 3.5, 5.1},
	{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 190, 35, 0, 0, 200},
	{"2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 130, 50, 0, 0, 150},
	{"2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 52, 12, 0, 40, 60},
	{"18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", "mg/dL", 110, 30, 0, 0, 100},
	{"718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", 14, 1.5, 1, 12, 17.5},
	{"6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 7.2, 2, 1, 4.5, 11},
	{"777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 250, 60, 0, 150, 400},
	{"1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 28, 12, 0, 7, 56},
	{"3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "mIU/L", "m[IU]/L", 2.1, 1, 2, 0.4, 4},
	{"33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)", "mL/min/1.73m2", "mL/min/{1.73_m2}", 88, 18, 0, 60, 120},
	{"3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 14, 4, 0, 7, 20},
}

// medicationCode is an RxNorm clinical drug with a typical dosage.
type medicationCode struct {
	rxnorm, display, dosage string
	chronic                 bool
}

var medicationCodes = []medicationCode{
	{"314076", "lisinopril 10 MG Oral Tablet", "10 mg by mouth once daily", true},
	{"197361", "amlodipine 5 MG Oral Tablet", "5 mg by mouth once daily", true},
	{"861007", "metformin hydrochloride 500 MG Oral Tablet", "500 mg by mouth twice daily with meals", true},
	{"617310", "atorvastatin 20 MG Oral Tablet", "20 mg by mouth once daily at bedtime", true},
	{"198211", "simvastatin 40 MG Oral Tablet", "40 mg by mouth once daily in the evening", true},
	{"966222", "levothyroxine sodium 0.05 MG Oral Tablet", "50 mcg by mouth every morning before breakfast", true},
	{"310965", "ibuprofen 200 MG Oral Tablet", "400 mg by mouth every 6 hours as needed for pain", false},
	{"308191", "amoxicillin 500 MG Oral Capsule", "500 mg by mouth three times daily for 10 days", false},
	{"309114", "cephalexin 500 MG Oral Capsule", "500 mg by mouth four times daily for 7 days", false},
	{"745679", "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", "2 puffs every 4 to 6 hours as needed for wheezing", true},
	{"312940", "sertraline 50 MG Oral Tablet", "50 mg by mouth once daily", true},
	{"243670", "aspirin 81 MG Oral Tablet", "81 mg by mouth once daily", true},
	{"855332", "warfarin sodium 5 MG Oral Tablet", "5 mg by mouth once daily, adjusted to INR", true},
	{"310429", "furosemide 20 MG Oral Tablet", "20 mg by mouth once daily", true},
	{"198053", "omeprazole 20 MG Delayed Release Oral Capsule", "20 mg by mouth once daily before breakfast", true},
	{"311041", "insulin glargine 100 UNT/ML Injectable Solution", "20 units subcutaneously at bedtime", true},
}

package bench

// culture is a naming tradition together with the places its patients live
// in. Weights are rough shares of a large, mixed urban hospital population;
// they are not demographics of anywhere in particular.
type culture struct {
	name   string
	weight int
	male   []string
	female []string
	family []string
	// twoFamilies: a Hispanic patient has a paternal and a maternal family
	// name ("García Márquez"); both go in name.family, as FHIR advises.
	twoFamilies bool
	// familyFirst: the family name is spoken first (Chinese, Vietnamese);
	// name.text keeps that order.
	familyFirst bool
	places      []place
	country     string // ISO 3166 alpha-2
	phonePrefix string // country calling code with leading +
	streets     []string
}

// place is a city and a postal code pattern ('#' is a random digit).
type place struct {
	city, postal string
}

var cultures = []culture{
	{
		name: "anglo", weight: 30, country: "US", phonePrefix: "+1",
		male:    []string{"James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles", "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Andrew", "Joshua", "Kevin", "Brian", "George", "Edward", "Ronald", "Timothy", "Jason", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Frank", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron", "Henry", "Liam", "Noah", "Oliver", "Elijah", "Lucas", "Mason", "Logan", "Ethan", "Walter", "Harold", "Arthur"},
		female:  []string{"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen", "Lisa", "Nancy", "Betty", "Margaret", "Sandra", "Ashley", "Kimberly", "Emily", "Donna", "Michelle", "Carol", "Amanda", "Dorothy", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Kathleen", "Amy", "Angela", "Shirley", "Anna", "Brenda", "Pamela", "Emma", "Nicole", "Helen", "Samantha", "Katherine", "Christine", "Debra", "Rachel", "Carolyn", "Janet", "Catherine", "Olivia", "Ava", "Sophia", "Isabella", "Charlotte", "Amelia", "Harper", "Evelyn", "Abigail", "Mildred", "Edith", "Florence"},
		family:  []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray", "James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "O'Brien", "O'Connor", "McDonald", "MacLeod", "Fitzgerald", "Sullivan", "Gallagher", "Kennedy", "Murray", "Hamilton"},
		places:  []place{{"Springfield", "011##"}, {"Boston", "021##"}, {"Chicago", "606##"}, {"Columbus", "432##"}, {"Portland", "972##"}, {"Denver", "802##"}, {"Nashville", "372##"}, {"Atlanta", "303##"}},
		streets: []string{"Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Street", "Washington Boulevard", "Park Road", "Lake View Terrace", "Sunset Drive", "High Street"},
	},
	{
		name: "hispanic", weight: 14, country: "US", phonePrefix: "+1", twoFamilies: true,
		male:    []string{"José", "Juan", "Luis", "Carlos", "Jesús", "Miguel", "Ángel", "Alejandro", "Jorge", "Francisco", "Antonio", "Manuel", "Pedro", "Ramón", "Andrés", "Sebastián", "Mateo", "Santiago", "Diego", "Joaquín", "Julián", "Héctor", "Rubén", "Raúl", "Óscar", "Tomás", "Nicolás", "Gonzalo", "Ignacio", "Rodrigo"},
		female:  []string{"María", "Guadalupe", "Juana", "Ana", "Rosa", "Carmen", "Lucía", "Sofía", "Valentina", "Camila", "Isabel", "Verónica", "Mónica", "Patricia", "Inés", "Beatriz", "Dolores", "Pilar", "Concepción", "Ximena", "Renata", "Itzel", "Natalia", "Elena", "Adriana", "Leticia", "Gabriela", "Raquel", "Marisol", "Begoña"},
		family:  []string{"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz", "Morales", "Reyes", "Gutiérrez", "Ortiz", "Chávez", "Ramos", "Ruiz", "Jiménez", "Mendoza", "Álvarez", "Castillo", "Vásquez", "Romero", "Herrera", "Medina", "Aguilar", "Vargas", "Castro", "Guzmán", "Fernández", "Muñoz", "Núñez", "Peña", "Ibáñez", "Márquez", "Domínguez", "Suárez", "Ordóñez", "Zúñiga", "Beltrán"},
		places:  []place{{"Los Angeles", "900##"}, {"San Antonio", "782##"}, {"Miami", "331##"}, {"El Paso", "799##"}, {"Houston", "770##"}, {"Phoenix", "850##"}},
		streets: []string{"Calle Real", "Avenida Central", "Mission Street", "Alvarado Street", "Calle del Sol", "Camino Real"},
	},
	{
		name: "german", weight: 6, country: "DE", phonePrefix: "+49",
		male:    []string{"Jürgen", "Günter", "Klaus", "Hans", "Uwe", "Jörg", "Dieter", "Wolfgang", "Stefan", "Andreas", "Matthias", "Lukas", "Jonas", "Maximilian", "Felix", "Björn", "Sören", "Horst", "Ralf", "Helmut"},
		female:  []string{"Erika", "Ursula", "Brigitte", "Käthe", "Sabine", "Jutta", "Renate", "Hannelore", "Monika", "Petra", "Katharina", "Lena", "Mia", "Hannah", "Lea", "Gertrud", "Anneliese", "Gisela", "Ingrid", "Bärbel", "Dörte"},
		family:  []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Köhler", "Jäger", "Groß", "Weiß", "Böhm", "Lößner", "Günther", "Pfeiffer"},
		places:  []place{{"München", "80###"}, {"Köln", "50###"}, {"Düsseldorf", "40###"}, {"Nürnberg", "90###"}, {"Berlin", "10###"}, {"Lübeck", "23###"}},
		streets: []string{"Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Lindenallee", "Mühlenweg"},
	},
	{
		name: "vietnamese", weight: 4, country: "US", phonePrefix: "+1", familyFirst: true,
		male:    []string{"Minh", "Huy", "Khang", "Bảo", "Phúc", "Anh", "Hoàng", "Dũng", "Tuấn", "Quang", "Thắng", "Long", "Nam", "Đức", "Hải"},
		female:  []string{"Linh", "Ngọc", "Hương", "Trang", "Thảo", "Lan", "Mai", "Hoa", "Phương", "Thủy", "Hằng", "Yến", "Nhung", "Vy", "Trâm"},
		family:  []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"},
		places:  []place{{"San Jose", "951##"}, {"Westminster", "926##"}, {"Houston", "770##"}},
		streets: []string{"Bolsa Avenue", "Story Road", "Bellaire Boulevard"},
	},
	{
		name: "chinese", weight: 6, country: "US", phonePrefix: "+1", familyFirst: true,
		male:    []string{"Wei", "Jun", "Hao", "Jie", "Lei", "Qiang", "Ming", "Tao", "Yong", "Jian", "Zhiwei", "Haoran", "Yuxuan", "Zihan", "Chen"},
		female:  []string{"Xiu", "Li", "Mei", "Jing", "Ying", "Fang", "Yan", "Xiaoling", "Hui", "Na", "Yuxin", "Zixuan", "Shu", "Lan", "Qing"},
		family:  []string{"Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Luo", "Zheng", "Liang", "Xie", "Tang", "Song", "Deng"},
		places:  []place{{"San Francisco", "941##"}, {"New York", "100##"}, {"Flushing", "113##"}},
		streets: []string{"Grant Avenue", "Canal Street", "Main Street", "Stockton Street"},
	},
	{
		name: "arabic", weight: 6, country: "US", phonePrefix: "+1",
		// Transliterations differ by family and country; a front desk must
		// find Mohammed when Muhammad is typed, so both occur.
		male:    []string{"Mohammed", "Muhammad", "Mohamed", "Ahmed", "Ahmad", "Ali", "Omar", "Umar", "Youssef", "Yusuf", "Hassan", "Hussein", "Khalid", "Ibrahim", "Abdullah", "Abdulrahman", "Mustafa", "Tariq", "Karim", "Samir"},
		female:  []string{"Fatima", "Fatma", "Aisha", "Aicha", "Mariam", "Maryam", "Layla", "Leila", "Nour", "Noor", "Zainab", "Khadija", "Salma", "Yasmin", "Huda", "Amira", "Rania", "Hana", "Rim", "Samira"},
		family:  []string{"Al-Sayed", "El-Sayed", "Haddad", "Khoury", "Hassan", "Mansour", "Nasser", "Abdallah", "Abdullah", "Saleh", "Al-Masri", "Ibrahim", "Khalil", "Darwish", "Farouk", "Al-Rashid", "Aziz", "Bakr", "Hamdan", "Qureshi"},
		places:  []place{{"Dearborn", "481##"}, {"Paterson", "075##"}, {"Anaheim", "928##"}},
		streets: []string{"Warren Avenue", "Main Street", "Schaefer Road"},
	},
	{
		name: "nigerian", weight: 4, country: "US", phonePrefix: "+1",
		male:    []string{"Chinedu", "Emeka", "Oluwaseun", "Tunde", "Babatunde", "Chukwuemeka", "Ifeanyi", "Olumide", "Segun", "Uchenna", "Adebayo", "Obinna", "Kelechi", "Nnamdi", "Ayodele"},
		female:  []string{"Ngozi", "Chiamaka", "Adaeze", "Folake", "Funmilayo", "Oluwakemi", "Yetunde", "Chioma", "Nkechi", "Ifeoma", "Abimbola", "Titilayo", "Amarachi", "Temitope", "Uju"},
		family:  []string{"Okafor", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Adebayo", "Ogunleye", "Obi", "Chukwu", "Oladipo", "Nwachukwu", "Akinola", "Ibekwe", "Olawale", "Onyekachi"},
		places:  []place{{"Houston", "770##"}, {"Atlanta", "303##"}, {"Silver Spring", "209##"}},
		streets: []string{"Westheimer Road", "Georgia Avenue", "Peachtree Street"},
	},
	{
		name: "indian", weight: 7, country: "US", phonePrefix: "+1",
		male:    []string{"Aarav", "Rahul", "Amit", "Rajesh", "Sanjay", "Vikram", "Arjun", "Rohan", "Suresh", "Anil", "Pradeep", "Venkatesh", "Karthik", "Sandeep", "Harpreet", "Gurpreet", "Vivek", "Nikhil", "Deepak", "Manish"},
		female:  []string{"Priya", "Ananya", "Aditi", "Deepika", "Kavya", "Lakshmi", "Sunita", "Anjali", "Pooja", "Neha", "Shreya", "Divya", "Meera", "Radha", "Swati", "Harpreet", "Simran", "Geeta", "Sneha", "Isha"},
		family:  []string{"Patel", "Sharma", "Singh", "Kumar", "Gupta", "Reddy", "Rao", "Iyer", "Nair", "Desai", "Shah", "Mehta", "Joshi", "Agarwal", "Banerjee", "Chatterjee", "Mukherjee", "Krishnan", "Venkataraman", "Subramanian", "Pillai", "Kaur", "Chopra", "Malhotra"},
		places:  []place{{"Edison", "088##"}, {"Fremont", "945##"}, {"Jersey City", "073##"}, {"Sugar Land", "774##"}},
		streets: []string{"Oak Tree Road", "Mission Boulevard", "Newark Avenue"},
	},
	{
		name: "polish", weight: 5, country: "PL", phonePrefix: "+48",
		male:    []string{"Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Łukasz", "Jakub", "Grzegorz", "Wojciech", "Stanisław", "Mateusz", "Bartłomiej", "Zbigniew"},
		female:  []string{"Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna", "Elżbieta", "Zofia", "Magdalena", "Joanna", "Dorota", "Jadwiga", "Bożena"},
		family:  []string{"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski", "Zieliński", "Szymański", "Woźniak", "Dąbrowski", "Kozłowski", "Jankowski", "Mazur", "Kwiatkowski", "Krawczyk", "Piotrowski", "Grabowski", "Nowakowski", "Pawłowski", "Michalski", "Król", "Wieczorek", "Jabłoński", "Wróbel"},
		places:  []place{{"Kraków", "30-###"}, {"Warszawa", "00-###"}, {"Łódź", "90-###"}, {"Wrocław", "50-###"}, {"Gdańsk", "80-###"}},
		streets: []string{"ulica Długa", "ulica Mickiewicza", "ulica Słowackiego", "aleja Jana Pawła II", "ulica Kościuszki"},
	},
	{
		name: "greek", weight: 4, country: "GR", phonePrefix: "+30",
		male:    []string{"Georgios", "Ioannis", "Konstantinos", "Dimitrios", "Nikolaos", "Panagiotis", "Vasileios", "Christos", "Athanasios", "Michail", "Evangelos", "Spyridon"},
		female:  []string{"Maria", "Eleni", "Aikaterini", "Vasiliki", "Sofia", "Angeliki", "Georgia", "Dimitra", "Konstantina", "Paraskevi", "Eirini", "Despoina"},
		family:  []string{"Papadopoulos", "Papadopoulou", "Georgiou", "Oikonomou", "Dimitriou", "Nikolaidis", "Konstantinidis", "Papageorgiou", "Vlachos", "Angelopoulos", "Karagiannis", "Christodoulou", "Pappas", "Makris", "Antoniou", "Alexiou"},
		places:  []place{{"Athína", "10###"}, {"Thessaloníki", "54###"}, {"Pátra", "26###"}},
		streets: []string{"Odos Ermou", "Leoforos Syngrou", "Odos Egnatia", "Odos Stadiou"},
	},
	{
		name: "french", weight: 3, country: "FR", phonePrefix: "+33",
		male:    []string{"Jean", "Pierre", "Michel", "André", "Philippe", "René", "Louis", "Alain", "Jacques", "Bernard", "François", "Hervé", "Jérôme", "Benoît", "Loïc"},
		female:  []string{"Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie", "Hélène", "Chloé", "Léa", "Zoé", "Anaïs", "Céline", "Élodie"},
		family:  []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garnier", "Lefèbvre", "Rousseau", "Mercier", "Bélanger", "Côté"},
		places:  []place{{"Paris", "75###"}, {"Lyon", "690##"}, {"Marseille", "130##"}, {"Montréal", "H2###"}},
		streets: []string{"rue de la République", "avenue Victor Hugo", "rue Pasteur", "boulevard Saint-Michel"},
	},
	{
		name: "korean", weight: 3, country: "US", phonePrefix: "+1",
		male:    []string{"Min-jun", "Seo-jun", "Ji-ho", "Jae-won", "Dong-hyun", "Sung-min", "Hyun-woo", "Joon-young"},
		female:  []string{"Seo-yeon", "Ji-woo", "Min-seo", "Ha-eun", "Soo-jin", "Ji-young", "Eun-ji", "Hye-jin"},
		family:  []string{"Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han", "Shin"},
		places:  []place{{"Los Angeles", "900##"}, {"Fort Lee", "070##"}},
		streets: []string{"Wilshire Boulevard", "Main Street", "Broad Avenue"},
	},
	{
		name: "russian", weight: 3, country: "US", phonePrefix: "+1",
		male:    []string{"Aleksandr", "Sergei", "Dmitri", "Andrei", "Alexei", "Mikhail", "Ivan", "Nikolai", "Vladimir", "Yuri"},
		female:  []string{"Olga", "Tatiana", "Natalia", "Irina", "Svetlana", "Yelena", "Anastasia", "Ekaterina", "Lyudmila", "Galina"},
		family:  []string{"Ivanov", "Ivanova", "Smirnov", "Smirnova", "Kuznetsov", "Popov", "Sokolov", "Lebedev", "Kozlov", "Novikov", "Morozov", "Volkov", "Petrov", "Petrova"},
		places:  []place{{"Brooklyn", "112##"}, {"Sacramento", "958##"}},
		streets: []string{"Brighton Beach Avenue", "Ocean Parkway"},
	},
	{
		name: "turkish", weight: 2, country: "DE", phonePrefix: "+49",
		male:    []string{"Mehmet", "Mustafa", "Ahmet", "Hüseyin", "Hasan", "İbrahim", "Murat", "Emre", "Burak", "Ömer"},
		female:  []string{"Ayşe", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Merve", "Özlem", "Gül", "Şule"},
		family:  []string{"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir", "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin"},
		places:  []place{{"Berlin", "10###"}, {"Duisburg", "47###"}, {"Köln", "50###"}},
		streets: []string{"Kottbusser Damm", "Weseler Straße", "Keupstraße"},
	},
	{
		name: "irish-gaelic", weight: 1, country: "IE", phonePrefix: "+353",
		male:    []string{"Seán", "Pádraig", "Ciarán", "Oisín", "Darragh", "Cathal", "Éamon"},
		female:  []string{"Siobhán", "Aoife", "Niamh", "Saoirse", "Caoimhe", "Róisín", "Sinéad"},
		family:  []string{"Ó Briain", "Ní Bhriain", "Mac Cárthaigh", "Ó Súilleabháin", "Ó Néill", "Breathnach"},
		places:  []place{{"Gaillimh", "H91 ###"}, {"Baile Átha Cliath", "D0# ###"}},
		streets: []string{"Sráid na Siopaí", "Bóthar na Trá"},
	},
}

// cultureTotal is the sum of the weights.
var cultureTotal = func() int {
	n := 0
	for _, c := range cultures {
		n += c.weight
	}
	return n
}()

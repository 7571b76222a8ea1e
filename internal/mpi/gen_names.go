package mpi

import "strings"

// culture is a naming tradition the generator draws people from. Names are
// listed roughly from most to least common, and the generator picks with a
// skew towards the front so that common names recur as they do in real
// registers. Slavic names are written "Latin/Cyrillic". The lists were
// written for this package from common knowledge.
type culture struct {
	name           string
	weight         int
	male, female   []string
	family         []string
	familyFirst    bool   // Vietnamese and Chinese write the family name first
	gendered       bool   // Slavic family names take a feminine ending
	compound       bool   // Hispanic people often carry two family names
	phoneCountry   string // the prefix clerks add or omit
	city, postcode string // a city and the first digits of its postcodes
}

func split(s string) []string { return strings.Fields(s) }

var cultures = []culture{
	{name: "english", weight: 30, phoneCountry: "+1", city: "Springfield", postcode: "627",
		male:   split("James John Robert Michael William David Richard Joseph Thomas Charles Christopher Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron Henry Douglas Peter Adam Nathan Zachary Walter Kyle Harold Carl Arthur Gerald Roger Keith Lawrence Terry Sean Albert Austin Noah Ethan Oliver Liam Lucas Mason Logan"),
		female: split("Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte"),
		family: split("Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Cox Ward Richardson Watson Brooks Wood James Bennett Gray Hughes Price Sanders Myers Long Ross Foster O'Brien O'Connor McDonald MacLeod Sullivan Fitzgerald")},
	{name: "hispanic", weight: 16, compound: true, phoneCountry: "+1", city: "San Antonio", postcode: "782",
		male:   split("José Juan Luis Carlos Jesús Miguel Francisco Antonio Jorge Alejandro Manuel Pedro Ricardo Fernando Javier Andrés Rafael Roberto Eduardo Sergio Raúl Héctor Guillermo Diego Mario Ramón Ignacio Óscar Rubén Tomás Julián Martín Ángel Joaquín Nicolás Adrián Sebastián Mateo Santiago Emilio"),
		female: split("María Guadalupe Ana Rosa Carmen Josefina Juana Margarita Verónica Leticia Elena Patricia Laura Isabel Sofía Lucía Gabriela Alejandra Teresa Beatriz Adriana Claudia Dolores Mercedes Concepción Rocío Pilar Inés Valentina Camila Ximena Natalia Mónica Andrea Daniela Paula Raquel Silvia Yolanda"),
		family: split("García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Chávez Ramos Ruiz Jiménez Mendoza Álvarez Castillo Vásquez Romero Herrera Medina Aguilar Vargas Castro Guzmán Fernández Muñoz Núñez Peña Ibáñez")},
	{name: "arabic", weight: 8, phoneCountry: "+971", city: "Dubai", postcode: "001",
		male:   split("Mohammed Ahmed Ali Omar Yusuf Ibrahim Hassan Khalid Abdullah Mustafa Hamza Karim Tariq Samir Faisal Nasser Walid Adel Bilal Rashid Ziad Majid Sami Hussein Mahmoud Salim Jamal Amir Anwar Fadi Ismail Suleiman Musa Yasser Nabil"),
		female: split("Fatima Aisha Maryam Zainab Khadija Layla Noor Amina Huda Salma Rania Yasmin Hana Samira Leila Nadia Dalia Reem Lina Mona Sara Iman Rasha Ghada Hind Nour Jamila Farah Dina Basma"),
		family: split("Al-Hassan Al-Rashid Al-Sayed Haddad Khalil Nasser Mansour Saleh Hamdan Aziz Karim Al-Masri Abboud Farouk Qureshi Al-Amin Darwish Haddad Shalabi El-Sayed Bakr Hariri Jaber Al-Tamimi Othman Suleiman Yassin Zaki Al-Najjar Kanaan")},
	{name: "southasian", weight: 10, phoneCountry: "+44", city: "Leicester", postcode: "LE",
		male:   split("Mohammed Rahul Amit Arjun Vikram Rajesh Suresh Sanjay Anil Sunil Deepak Ravi Vijay Manoj Ashok Harpreet Gurpreet Imran Asif Tariq Kamal Rafiq Aziz Abdul Shahid Farhan Ayaan Rohan Krishna Arun Naveen Pradeep Ramesh Ganesh Mahesh Venkatesh Srinivas"),
		female: split("Priya Anjali Sunita Pooja Neha Kavita Anita Deepika Lakshmi Meera Nisha Rekha Shreya Divya Asha Sita Geeta Harpreet Simran Ayesha Fatima Nasreen Shabana Farzana Rukhsana Salma Parveen Razia Tahmina Nusrat Sultana Roksana"),
		family: split("Patel Sharma Singh Kumar Khan Shah Gupta Ahmed Hussain Rahman Begum Akter Chowdhury Hossain Islam Uddin Ali Malik Iqbal Reddy Rao Nair Iyer Menon Das Bose Banerjee Chatterjee Mukherjee Desai Mehta Joshi Kaur Gill Sandhu Siddiqui Mirza")},
	{name: "vietnamese", weight: 5, familyFirst: true, phoneCountry: "+1", city: "Garden Grove", postcode: "928",
		male:   split("Văn_An Văn_Hùng Văn_Minh Văn_Nam Minh_Tuấn Đức_Anh Quốc_Bảo Văn_Dũng Thanh_Sơn Văn_Long Hoàng_Phúc Văn_Thắng Gia_Huy Văn_Tài Văn_Hải Tiến_Dũng Văn_Khoa Anh_Tuấn"),
		female: split("Thị_Lan Thị_Hoa Thị_Mai Thị_Hương Ngọc_Anh Thị_Thu Thị_Hằng Thu_Trang Thị_Nga Thị_Linh Bảo_Ngọc Thị_Phương Thị_Yến Minh_Châu Thị_Tuyết Thị_Hạnh Thị_Loan Kim_Oanh"),
		family: split("Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Trương Đinh")},
	{name: "chinese", weight: 6, familyFirst: true, phoneCountry: "+1", city: "Flushing", postcode: "113",
		male:   split("Wei Jun Lei Hao Yang Ming Jian Qiang Tao Bo Chao Feng Gang Peng Xin Yong Zhiwei Haoran Zihan Yuxuan Jianguo Xiaoming Guang Long"),
		female: split("Fang Min Jing Li Ying Hui Yan Xia Mei Juan Ling Na Xiu Yun Lan Qing Ting Xiaoyan Yuting Jiayi Shu Hong Lin"),
		family: split("Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo Zheng Liang Xie Tang")},
	{name: "slavic", weight: 8, gendered: true, phoneCountry: "+7", city: "Brighton Beach", postcode: "112",
		male:   split("Aleksandr/Александр Dmitry/Дмитрий Sergei/Сергей Andrei/Андрей Aleksei/Алексей Ivan/Иван Mikhail/Михаил Nikolai/Николай Vladimir/Владимир Yuri/Юрий Pavel/Павел Oleg/Олег Igor/Игорь Viktor/Виктор Konstantin/Константин Maksim/Максим Artem/Артём Roman/Роман Boris/Борис Evgeny/Евгений Piotr/Piotr Tomasz/Tomasz Krzysztof/Krzysztof Łukasz/Łukasz"),
		female: split("Ekaterina/Екатерина Olga/Ольга Natalia/Наталья Tatiana/Татьяна Elena/Елена Irina/Ирина Svetlana/Светлана Anna/Анна Maria/Мария Yulia/Юлия Anastasia/Анастасия Marina/Марина Oksana/Оксана Lyudmila/Людмила Galina/Галина Daria/Дарья Agnieszka/Agnieszka Małgorzata/Małgorzata Katarzyna/Katarzyna"),
		family: split("Ivanov/Иванов Smirnov/Смирнов Kuznetsov/Кузнецов Popov/Попов Sokolov/Соколов Lebedev/Лебедев Kozlov/Козлов Novikov/Новиков Morozov/Морозов Volkov/Волков Solovyov/Соловьёв Vasiliev/Васильев Zaitsev/Зайцев Pavlov/Павлов Semenov/Семёнов Golubev/Голубев Kowalski/Kowalski Wiśniewski/Wiśniewski Nowakowski/Nowakowski Wójcik/Wójcik Shevchenko/Шевченко Kovalenko/Коваленко Bondarenko/Бондаренко")},
	{name: "german", weight: 7, phoneCountry: "+49", city: "München", postcode: "80",
		male:   split("Jürgen Günter Klaus Uwe Jörg Björn Sören Stefan Thomas Andreas Michael Wolfgang Dieter Hans Peter Frank Matthias Markus Tobias Lukas Felix Maximilian Florian Sebastian Jonas Moritz Paul Leon Rüdiger Gerd"),
		female: split("Käthe Bärbel Gudrun Ursula Monika Petra Sabine Andrea Claudia Susanne Birgit Heike Anja Katrin Nicole Julia Lena Lea Hannah Sophie Marie Jana Laura Anke Dörte Renate Gisela Ingrid Brigitte Helga Jutta"),
		family: split("Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann Köhler Groß Jäger Günther Löwe Möller Hübner")},
	{name: "nigerian", weight: 6, phoneCountry: "+234", city: "Houston", postcode: "770",
		male:   split("Oluwaseun Chukwuemeka Adebayo Babatunde Olusegun Emeka Chinedu Obinna Tunde Femi Ikechukwu Uchenna Kelechi Oluwafemi Adewale Nnamdi Ifeanyi Chidi Olumide Segun Kayode Tobi Chibuike Ayodele"),
		female: split("Ngozi Chiamaka Funmilayo Adaeze Oluwakemi Chioma Nkechi Yetunde Folake Amaka Ifeoma Adaobi Bukola Titilayo Nneka Uju Blessing Precious Oluwatoyin Temitope Ebere Obiageli Omolara Ijeoma"),
		family: split("Okafor Adeyemi Okonkwo Eze Ogunleye Balogun Nwosu Adebayo Okeke Chukwu Obi Olawale Ogunbiyi Onyeka Nwachukwu Afolabi Adeleke Ibrahim Bello Okoro Uzoma Akinola Oyelaran Nnadi")},
	{name: "turkish", weight: 4, phoneCountry: "+90", city: "Berlin", postcode: "10",
		male:   split("Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim İsmail Osman Yusuf Murat Ömer Ramazan Şükrü Çağlar Emre Burak Kağan Oğuz Serkan"),
		female: split("Fatma Ayşe Emine Hatice Zeynep Elif Meryem Şerife Sultan Zehra Hanife Merve Özlem Gül Büşra Esra Derya Gülşen Şeyma Yağmur"),
		family: split("Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin Kara Koç Kurt Özkan Şimşek")},
}

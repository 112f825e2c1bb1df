//! Names per culture (first and last), businesses and family names. An entry is `display|ascii`
//! when its display form is not ASCII: the ASCII form makes e-mail addresses and handles.

/// A culture's first and last names.
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) first: &'static [&'static str],
    pub(crate) last: &'static [&'static str],
}

/// `display|ascii` (or just `ascii-display`) as a pair.
pub(crate) type Name = (&'static str, &'static str);

pub(crate) fn split_name(entry: &'static str) -> Name {
    match entry.bytes().position(|b| b == b'|') {
        Some(k) => (&entry[..k], &entry[k + 1..]),
        None => (entry, entry),
    }
}

#[rustfmt::skip]
pub(crate) const BUSINESSES: &[&str] = &[
    "Bäckerei|baeckerei", "Praxis Dr.|praxis", "Autohaus|autohaus", "Kanzlei|kanzlei",
    "Friseur|friseur", "Physiotherapie|physio", "Fahrschule|fahrschule", "Blumen|blumen",
    "Malerbetrieb|maler", "Elektro|elektro",
];

#[rustfmt::skip]
pub(crate) const FAMILY: &[&str] = &[
    "Mama", "Papa", "Oma", "Opa", "Schatz", "Tante ", "Onkel ", "Cousine ", "Mutti",
];

#[rustfmt::skip]
pub(crate) static GERMAN: Names = Names {
    first: &[
        "Anna", "Maria", "Laura", "Julia", "Lena", "Sarah", "Lisa", "Katharina", "Sophie",
        "Hannah", "Lea", "Johanna", "Sabine", "Petra", "Monika", "Ursula", "Claudia", "Susanne",
        "Andrea", "Stefanie", "Nicole", "Heike", "Birgit", "Kerstin", "Anja", "Jana", "Franziska",
        "Charlotte", "Emma", "Mia", "Käthe|kaethe", "Jürgen|juergen", "Jörg|joerg", "Björn|bjoern",
        "Günter|guenter", "Thomas", "Michael", "Andreas", "Stefan", "Christian", "Markus",
        "Martin", "Frank", "Tobias", "Daniel", "Alexander", "Jan", "Lukas", "Leon", "Felix",
        "Jonas", "Maximilian", "Paul", "Niklas", "Sebastian", "Matthias", "Uwe", "Klaus",
        "Wolfgang", "Helmut", "Dieter", "Karl", "Ben", "Finn", "Elias", "Noah",
    ],
    last: &[
        "Müller|mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
        "Schulz", "Hoffmann", "Schäfer|schaefer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
        "Schröder|schroeder", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger|krueger",
        "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
        "Lehmann", "Schmid", "Schulze", "Maier", "Köhler|koehler", "Herrmann", "König|koenig",
        "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz",
        "Möller|moeller", "Weiß|weiss", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich", "Keller",
        "Günther|guenther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
        "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm|boehm", "Winter", "Kraus",
        "Martin", "Schumacher", "Krämer|kraemer", "Vogt", "Stein", "Jäger|jaeger", "Otto",
        "Sommer", "Groß|gross", "Seidel", "Heinrich", "Brandt", "Haas",
    ],
};

#[rustfmt::skip]
pub(crate) static ENGLISH: Names = Names {
    first: &[
        "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
        "Charles", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
        "Jessica", "Sarah", "Karen", "Emily", "Olivia", "Oliver", "Harry", "George", "Jack",
        "Amelia", "Isla", "Chloe", "Sophie",
    ],
    last: &[
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
        "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Walker",
        "Robinson", "Wright", "Evans", "Roberts", "Green", "Hall", "Wood", "Clarke",
        "O'Brien|obrien",
    ],
};

#[rustfmt::skip]
pub(crate) static FRENCH: Names = Names {
    first: &[
        "Camille", "Léa|lea", "Manon", "Chloé|chloe", "Inès|ines", "Emma", "Louise", "Jade",
        "Hugo", "Lucas", "Louis", "Gabriel", "Arthur", "Jules", "Théo|theo", "Nicolas", "Julien",
        "Pierre", "Antoine", "François|francois", "Élodie|elodie",
    ],
    last: &[
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
        "Moreau", "Simon", "Laurent", "Lefèvre|lefevre", "Michel", "Garcia", "David", "Bertrand",
        "Roux", "Vincent", "Fournier", "Girard", "Bonnet", "Lambert", "Fontaine", "Rousseau",
    ],
};

#[rustfmt::skip]
pub(crate) static DUTCH: Names = Names {
    first: &[
        "Daan", "Sem", "Lucas", "Levi", "Finn", "Bram", "Jesse", "Sanne", "Lotte", "Femke",
        "Anouk", "Fleur", "Eva", "Sophie", "Thijs", "Ruben", "Maarten", "Joost", "Pieter",
        "Willem",
    ],
    last: &[
        "de Jong|dejong", "Jansen", "de Vries|devries", "van den Berg|vandenberg",
        "van Dijk|vandijk", "Bakker", "Janssen", "Visser", "Smit", "Meijer", "de Boer|deboer",
        "Mulder", "de Groot|degroot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen|vanleeuwen",
        "Dekker", "Brouwer",
    ],
};

#[rustfmt::skip]
pub(crate) static ITALIAN: Names = Names {
    first: &[
        "Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Marco", "Alessandro",
        "Andrea", "Matteo", "Lorenzo", "Giulia", "Francesca", "Chiara", "Sara", "Martina",
        "Federica", "Valentina", "Alessia", "Elena", "Niccolò|niccolo",
    ],
    last: &[
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
        "Greco", "Bruno", "Gallo", "Conti", "De Luca|deluca", "Mancini", "Costa", "Giordano",
        "Rizzo", "Lombardi", "Moretti",
    ],
};

#[rustfmt::skip]
pub(crate) static SPANISH: Names = Names {
    first: &[
        "María|maria", "José|jose", "Antonio", "Manuel", "Francisco", "David", "Juan", "Javier",
        "Carmen", "Ana", "Isabel", "Laura", "Lucía|lucia", "Sofía|sofia", "Pablo", "Alejandro",
        "Sergio", "Marta", "Elena", "Raúl|raul",
    ],
    last: &[
        "García|garcia", "Rodríguez|rodriguez", "González|gonzalez", "Fernández|fernandez",
        "López|lopez", "Martínez|martinez", "Sánchez|sanchez", "Pérez|perez", "Gómez|gomez",
        "Martín|martin", "Jiménez|jimenez", "Ruiz", "Hernández|hernandez", "Díaz|diaz", "Moreno",
        "Muñoz|munoz", "Álvarez|alvarez", "Romero", "Alonso", "Gutiérrez|gutierrez",
    ],
};

#[rustfmt::skip]
pub(crate) static POLISH: Names = Names {
    first: &[
        "Anna", "Katarzyna", "Małgorzata|malgorzata", "Agnieszka", "Barbara", "Ewa", "Krystyna",
        "Magdalena", "Joanna", "Aleksandra", "Piotr", "Krzysztof", "Andrzej", "Tomasz",
        "Paweł|pawel", "Michał|michal", "Marcin", "Łukasz|lukasz", "Jakub", "Grzegorz",
    ],
    last: &[
        "Nowak", "Kowalski", "Wiśniewski|wisniewski", "Wójcik|wojcik", "Kowalczyk",
        "Kamiński|kaminski", "Lewandowski", "Zieliński|zielinski", "Szymański|szymanski",
        "Woźniak|wozniak", "Dąbrowski|dabrowski", "Kozłowski|kozlowski", "Jankowski", "Mazur",
        "Wojciechowski", "Kwiatkowski", "Krawczyk", "Kaczmarek", "Piotrowski", "Grabowski",
    ],
};

#[rustfmt::skip]
pub(crate) static TURKISH: Names = Names {
    first: &[
        "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin|huseyin", "Hasan", "İbrahim|ibrahim",
        "Murat", "Emre", "Can", "Ayşe|ayse", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Merve",
        "Özlem|ozlem", "Selin", "Deniz",
    ],
    last: &[
        "Yılmaz|yilmaz", "Kaya", "Demir", "Şahin|sahin", "Çelik|celik", "Yıldız|yildiz",
        "Yıldırım|yildirim", "Öztürk|ozturk", "Aydın|aydin", "Özdemir|ozdemir", "Arslan",
        "Doğan|dogan", "Kılıç|kilic", "Aslan", "Çetin|cetin", "Kara", "Koç|koc", "Kurt",
        "Özkan|ozkan", "Şimşek|simsek",
    ],
};

#[rustfmt::skip]
pub(crate) static INDIAN: Names = Names {
    first: &[
        "Aarav", "Vivaan", "Aditya", "Arjun", "Rohan", "Rahul", "Amit", "Priya", "Ananya", "Diya",
        "Kavya", "Neha", "Pooja", "Sneha", "Vikram", "Sanjay", "Deepak", "Anjali", "Ravi",
        "Sunita",
    ],
    last: &[
        "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Reddy", "Iyer", "Nair", "Rao",
        "Mehta", "Shah", "Joshi", "Das", "Chopra", "Malhotra", "Bose", "Pillai", "Agarwal",
        "Banerjee",
    ],
};

#[rustfmt::skip]
pub(crate) static PORTUGUESE: Names = Names {
    first: &[
        "João|joao", "Pedro", "Lucas", "Gabriel", "Rafael", "Miguel", "Tiago", "André|andre",
        "Ana", "Beatriz", "Mariana", "Inês|ines", "Sofia", "Juliana", "Camila", "Larissa",
        "Fernanda", "Luísa|luisa", "Gonçalo|goncalo", "Thiago",
    ],
    last: &[
        "Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Ferreira", "Rodrigues",
        "Almeida", "Carvalho", "Gomes", "Martins", "Ribeiro", "Lima", "Araújo|araujo", "Sousa",
        "Fernandes", "Barbosa", "Rocha", "Nunes",
    ],
};

#[rustfmt::skip]
pub(crate) static RUSSIAN: Names = Names {
    first: &[
        "Ольга|olga", "Татьяна|tatiana", "Наталья|natalia", "Елена|elena", "Ирина|irina",
        "Светлана|svetlana", "Анна|anna", "Мария|maria", "Екатерина|ekaterina", "Юлия|yulia",
        "Александр|alexander", "Сергей|sergey", "Дмитрий|dmitry", "Андрей|andrey",
        "Алексей|alexey", "Максим|maxim", "Иван|ivan", "Михаил|mikhail", "Николай|nikolay",
        "Владимир|vladimir",
    ],
    last: &[
        "Иванов|ivanov", "Смирнов|smirnov", "Кузнецов|kuznetsov", "Попов|popov",
        "Васильев|vasiliev", "Петров|petrov", "Соколов|sokolov", "Михайлов|mikhailov",
        "Новиков|novikov", "Фёдоров|fedorov", "Морозов|morozov", "Волков|volkov",
        "Алексеев|alekseev", "Лебедев|lebedev", "Семёнов|semenov", "Егоров|egorov",
        "Павлов|pavlov", "Козлов|kozlov", "Степанов|stepanov", "Николаев|nikolaev",
    ],
};

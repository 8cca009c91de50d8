// Package ids makes and shortens the 64-hex-digit IDs and the random names Docker uses.
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
)

// NewID returns 32 random bytes as 64 lowercase hex digits, never all-numeric (Docker's rule, so a
// short ID cannot be mistaken for a number).
func NewID() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		id := hex.EncodeToString(b)
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

// Truncate returns the 12-digit short form of id, without any "sha256:" prefix.
func Truncate(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// IsHexPrefix tells whether s could be a (prefix of a) hex ID.
func IsHexPrefix(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

var left = []string{"admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
	"blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
	"confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic",
	"elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused",
	"friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic",
	"hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind",
	"laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice",
	"nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless",
	"quirky", "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly",
	"sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled",
	"upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen"}

var right = []string{"agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin",
	"babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "black", "blackwell",
	"bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "clarke",
	"colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley", "einstein", "elion",
	"engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo", "gates", "goldberg",
	"goldstine", "golick", "goodall", "hamilton", "hawking", "heisenberg", "hermann", "hodgkin", "hoover", "hopper",
	"hugle", "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "kapitsa",
	"keller", "kepler", "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande", "lamarr", "lamport", "leakey",
	"leavitt", "lewin", "lichterman", "liskov", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock",
	"mclean", "mcnulty", "meitner", "mendel", "mestorf", "minsky", "mirzakhani", "morse", "murdock", "napier", "nash",
	"neumann", "newton", "nightingale", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pasteur",
	"payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "roentgen",
	"rosalind", "saha", "sammet", "shaw", "shirley", "shockley", "sinoussi", "snyder", "spence", "stonebraker",
	"sutherland", "swanson", "swartz", "swirles", "taussig", "tesla", "thompson", "torvalds", "turing", "varahamihira",
	"visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath"}

func pick(list []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return list[n.Int64()]
}

// RandomName returns a Docker-style "adjective_surname" name; retry > 0 appends a digit as Docker does.
func RandomName(retry int) string {
	name := pick(left) + "_" + pick(right)
	if name == "boring_wozniak" {
		return RandomName(retry)
	}
	if retry > 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(10))
		name += n.String()
	}
	return name
}

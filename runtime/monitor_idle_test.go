package runtime

import (
	"reflect"
	"testing"
	"time"
)

func TestParseExited(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want exitedSpec
		err  bool
	}{
		{in: "code=137,time=1700000000000000001,listen=5,delay=400000000,notified=1,clients=7:10;9:01,held=11;12",
			want: exitedSpec{code: 137, finished: time.Unix(0, 1700000000000000001).UTC(), listen: 5, delay: 400 * time.Millisecond,
				notified: true, clients: []exitedClient{{7, true, false}, {9, false, true}}, held: []int{11, 12}}},
		{in: "code=0,time=5,listen=3,clients=",
			want: exitedSpec{finished: time.Unix(0, 5).UTC(), listen: 3, delay: firstRestartDelay}},
		{in: "code=0,listen=3", err: true},
		{in: "code=x,time=1,listen=3", err: true},
		{in: "code=0,time=1,listen=3,clients=7", err: true},
		{in: "", err: true},
	} {
		got, err := parseExited(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseExited(%q) error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if !tc.err && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseExited(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

package verdict

import (
	"encoding/json"
	"testing"
)

func TestMergeAndJSON(t *testing.T) {
	tests := []struct {
		name string
		in   []Validity
		want Validity
		json string
	}{
		{"empty is valid", nil, True, "true"},
		{"unknown beats true", []Validity{True, Unknown}, Unknown, `"unknown"`},
		{"false beats unknown", []Validity{Unknown, False, True}, False, "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Merge(tt.in...)
			if got != tt.want {
				t.Fatalf("Merge = %v, want %v", got, tt.want)
			}
			b, err := json.Marshal(got)
			if err != nil || string(b) != tt.json {
				t.Fatalf("marshal = %s, %v; want %s", b, err, tt.json)
			}
			var back Validity
			if err := json.Unmarshal(b, &back); err != nil || back != got {
				t.Errorf("unmarshal %s = %v, %v", b, back, err)
			}
		})
	}
	var v Validity
	if err := json.Unmarshal([]byte(`"maybe"`), &v); err == nil {
		t.Errorf("accepted \"maybe\"")
	}
}

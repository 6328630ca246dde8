package phonenum

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

// CodeInvalidPhoneNumber is the error code for a number that cannot be parsed.
const CodeInvalidPhoneNumber = "invalid_phone_number"

type numberBody struct {
	Number        string `json:"number" maxLength:"64" doc:"A phone number in any common form, e.g. +1 (415) 555-0123 or 0415 555 0123 with default_region."`
	DefaultRegion string `json:"default_region,omitempty" pattern:"^[A-Za-z]{2}$" doc:"ISO 3166-1 alpha-2 region assumed when the number has no +country code, e.g. US."`
}

type parseInput struct {
	Body numberBody
}

type formatInput struct {
	Body struct {
		Number        string `json:"number" maxLength:"64" doc:"A phone number in any common form."`
		DefaultRegion string `json:"default_region,omitempty" pattern:"^[A-Za-z]{2}$" doc:"Region assumed when the number has no +country code, e.g. US."`
		Format        string `json:"format" enum:"E164,NATIONAL,INTERNATIONAL,RFC3966" doc:"The output format."`
	}
}

// Validation is the answer of /numbers/validate.
type Validation struct {
	Valid  bool   `json:"valid"`
	E164   string `json:"e164,omitempty" doc:"The normalized number, when it parses."`
	Reason string `json:"reason,omitempty" doc:"Why the number is not valid: empty, not_a_number, invalid_country_code, too_short, too_long, invalid_length, missing_country_code or not_a_valid_number_for_region."`
}

// Formatted is the answer of /numbers/format.
type Formatted struct {
	Number string `json:"number" doc:"The number in the requested format."`
	Format string `json:"format"`
	E164   string `json:"e164"`
	Valid  bool   `json:"valid"`
	Reason string `json:"reason,omitempty"`
}

func unparseable(err error) *httpapi.Error {
	return httpapi.NewError(http.StatusUnprocessableEntity, CodeInvalidPhoneNumber, Describe("number", err)).
		WithDetails(map[string]any{"reason": Reason(err)})
}

// Routes mounts the number helpers.
func Routes(api huma.API) {
	tags := []string{"Number helpers"}
	huma.Register(api, huma.Operation{
		OperationID: "parse-number", Method: http.MethodPost, Path: "/api/v1/numbers/parse", Tags: tags,
		Summary:     "Parse a phone number",
		Description: "Returns the number in E.164, national, international and RFC 3966 forms with its country code, region, type and validity. A number that cannot be parsed at all is a 422 `invalid_phone_number` with a `reason`.",
		Security:    httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *parseInput) (*httpapi.Response[Info], error) {
		info, err := Parse(in.Body.Number, in.Body.DefaultRegion)
		if err != nil {
			return nil, unparseable(err)
		}
		return httpapi.OK(info), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "validate-number", Method: http.MethodPost, Path: "/api/v1/numbers/validate", Tags: tags,
		Summary:     "Validate a phone number",
		Description: "Always answers 200: `valid` says whether the number can be used, and `reason` why not.",
		Security:    httpapi.Authed, Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *parseInput) (*httpapi.Response[Validation], error) {
		info, err := Parse(in.Body.Number, in.Body.DefaultRegion)
		if err != nil {
			return httpapi.OK(Validation{Valid: false, Reason: Reason(err)}), nil
		}
		return httpapi.OK(Validation{Valid: info.Valid, E164: info.E164, Reason: info.Reason}), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "format-number", Method: http.MethodPost, Path: "/api/v1/numbers/format", Tags: tags,
		Summary:  "Format a phone number",
		Security: httpapi.Authed, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *formatInput) (*httpapi.Response[Formatted], error) {
		info, err := Parse(in.Body.Number, in.Body.DefaultRegion)
		if err != nil {
			return nil, unparseable(err)
		}
		out, _ := info.Format(in.Body.Format)
		return httpapi.OK(Formatted{Number: out, Format: in.Body.Format, E164: info.E164, Valid: info.Valid, Reason: info.Reason}), nil
	})
}

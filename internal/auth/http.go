package auth

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/peakvoice/peakvoice/internal/httpapi"
)

type registerInput struct {
	Body struct {
		Email    string `json:"email" format:"email" maxLength:"254" doc:"Sign-in email; stored lower-cased."`
		Password string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters."`
		TeamName string `json:"team_name" minLength:"1" maxLength:"200" doc:"Name of the new team."`
	}
}

type registered struct {
	User User `json:"user"`
	Team Team `json:"team"`
	Tokens
}

type loginInput struct {
	Body struct {
		Email    string `json:"email" minLength:"1" maxLength:"254"`
		Password string `json:"password" minLength:"1" maxLength:"256"`
	}
}

type refreshInput struct {
	Body struct {
		RefreshToken string `json:"refresh_token" minLength:"1" maxLength:"512"`
	}
}

// MeResult describes the caller.
type MeResult struct {
	User User     `json:"user"`
	Team Team     `json:"team"`
	Auth AuthInfo `json:"auth"`
}

// AuthInfo says how the request authenticated.
type AuthInfo struct {
	Method   string `json:"method" enum:"jwt,api_key"`
	APIKeyID string `json:"api_key_id,omitempty"`
}

type createKeyInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"200" doc:"A label to recognise the key by."`
	}
}

// CreatedKey is an API key with its secret, shown once.
type CreatedKey struct {
	APIKey
	Key string `json:"key" doc:"The full pv_… key. Shown only in this response; store it now."`
}

type listKeysInput struct {
	httpapi.PageParams
}

type keyIDInput struct {
	KeyID string `path:"key_id" doc:"The key's id."`
}

type noContent struct {
	Status int `json:"-"`
}

// fail passes client errors through and hides everything else behind a
// logged 500.
func (s *Service) fail(ctx context.Context, err error) error {
	return httpapi.Fail(ctx, s.log, err, nil, nil)
}

// Routes mounts the auth operations on api.
func (s *Service) Routes(api huma.API) {
	tags := []string{"Auth"}
	huma.Register(api, huma.Operation{
		OperationID: "register", Method: http.MethodPost, Path: "/api/v1/auth/register", Tags: tags,
		Summary:       "Create a team and its owner",
		Description:   "Creates a team and its first user (the owner) and signs them in. Servers can switch this off.",
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusConflict, http.StatusForbidden},
	}, func(ctx context.Context, in *registerInput) (*httpapi.Created[registered], error) {
		u, t, toks, err := s.Register(ctx, in.Body.Email, in.Body.Password, in.Body.TeamName)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewCreated(registered{User: u, Team: t, Tokens: toks}), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "login", Method: http.MethodPost, Path: "/api/v1/auth/login", Tags: tags,
		Summary:     "Sign in with email and password",
		Description: "Returns an access token and a refresh token. Attempts are throttled per email and per client address (429 with Retry-After).",
		Errors:      []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *loginInput) (*httpapi.Response[Tokens], error) {
		toks, err := s.Login(ctx, in.Body.Email, in.Body.Password, httpapi.ClientAddr(ctx))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(toks), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "refresh", Method: http.MethodPost, Path: "/api/v1/auth/refresh", Tags: tags,
		Summary:     "Rotate a refresh token",
		Description: "Exchanges a refresh token for a new access token and a new refresh token. Each refresh token works once; presenting a used one revokes every token descended from the same sign-in.",
		Errors:      []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *refreshInput) (*httpapi.Response[Tokens], error) {
		toks, err := s.Refresh(ctx, in.Body.RefreshToken)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.OK(toks), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/api/v1/auth/me", Tags: tags,
		Summary: "Describe the caller", Security: httpapi.Authed,
		Errors: []int{http.StatusUnauthorized},
	}, func(ctx context.Context, _ *struct{}) (*httpapi.Response[MeResult], error) {
		p := httpapi.MustPrincipal(ctx)
		u, t, err := s.Me(ctx, p)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		info := AuthInfo{Method: "jwt"}
		if p.ViaAPIKey() {
			info = AuthInfo{Method: "api_key", APIKeyID: p.APIKeyID}
		}
		return httpapi.OK(MeResult{User: u, Team: t, Auth: info}), nil
	})
	keyTags := []string{"API keys"}
	jwtOnly := "Accepts JWTs only: an API key gets 403 `api_key_not_allowed`, so a leaked key cannot mint or list keys."
	huma.Register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/api/v1/auth/api-keys", Tags: keyTags,
		Summary:       "Create an API key",
		Description:   "Creates a `pv_…` key that acts as the calling user. The key is in this response only. " + jwtOnly,
		Security:      httpapi.JWTOnly,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *createKeyInput) (*httpapi.Created[CreatedKey], error) {
		k, secret, err := s.CreateAPIKey(ctx, httpapi.MustPrincipal(ctx), in.Body.Name)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewCreated(CreatedKey{APIKey: k, Key: secret}), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/api/v1/auth/api-keys", Tags: keyTags,
		Summary: "List the team's API keys", Description: "Live keys, newest first, without secrets. " + jwtOnly,
		Security: httpapi.JWTOnly,
		Errors:   []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *listKeysInput) (*httpapi.List[APIKey], error) {
		keys, total, err := s.ListAPIKeys(ctx, httpapi.MustPrincipal(ctx), in.PageParams)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		return httpapi.NewList(keys, in.PageParams, total), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/api/v1/auth/api-keys/{key_id}", Tags: keyTags,
		Summary: "Revoke an API key", Description: "The key stops working immediately. " + jwtOnly,
		Security:      httpapi.JWTOnly,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, func(ctx context.Context, in *keyIDInput) (*noContent, error) {
		if err := s.RevokeAPIKey(ctx, httpapi.MustPrincipal(ctx), in.KeyID); err != nil {
			return nil, s.fail(ctx, err)
		}
		return &noContent{Status: http.StatusNoContent}, nil
	})
}

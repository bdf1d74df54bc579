package requests

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/openconsular/consular/api/web"
	"github.com/openconsular/consular/internal/audit"
	"github.com/openconsular/consular/internal/consular"
	"github.com/openconsular/consular/internal/staffpolicy"
	"github.com/openconsular/consular/workflows/request"
)

// correctionArgs reads a correction made at the visit:
// {"field": "form.licence_number", "value": "...", "reason": "..."}, dates
// as YYYY-MM-DD. Who corrects is the token's owner: a staff_id or actor in
// the body is not read. A value the rules of submission refuse is a 422
// worded like a submission's problems; the workflow checks it again.
func (h *Handlers) correctionArgs(c *fiber.Ctx, a Actor, _ staffpolicy.Permission) (any, string, error) {
	var body struct {
		Field  string `json:"field"`
		Value  string `json:"value"`
		Reason string `json:"reason"`
	}
	if err := c.BodyParser(&body); err != nil {
		return nil, "", badRequest(`send {"field": "form.licence_number", "value": "...", "reason": "..."}`)
	}
	code, err := trackingCode(c)
	if err != nil {
		return nil, "", err
	}
	var serviceCode string
	if err := h.DB.QueryRow(c.UserContext(), "SELECT service_code FROM requests WHERE tracking_code = $1", code).Scan(&serviceCode); err != nil {
		return nil, "", fiber.NewError(fiber.StatusNotFound, "no request with this tracking code")
	}
	service, _ := consular.ServiceByCode(serviceCode)
	in := request.Correction{Field: strings.Clone(body.Field), Reason: strings.TrimSpace(body.Reason), StaffID: strconv.FormatInt(a.ID, 10)}
	refuse := func(en, fa string) (any, string, error) {
		h.record(c, a, staffpolicy.Correct, code, audit.Refused, en)
		return nil, "", &web.FormError{Code: fiber.StatusUnprocessableEntity, Message: en, Fa: fa}
	}
	field, ok := service.CorrectableField(in.Field)
	if !ok {
		return refuse("field must be one of this request's correctable fields, named section.name (form.<field>, identity.<field>, residence.<field>)",
			"field باید یکی از موارد قابل اصلاح این درخواست باشد، به شکل section.name")
	}
	stored, problem := field.Check(body.Value, time.Now(), nil)
	if problem != nil {
		// Worded as a submission's problem with this one field.
		p := *problem
		p.Field = field.Spec.Name
		e := describe(consular.Service{Fields: []consular.FieldSpec{field.Spec}}, []consular.Problem{p})[0]
		return refuse(e.Message, e.Fa)
	}
	switch consular.CorrectionReasonProblem(in.Reason) {
	case consular.ReasonRequired:
		return refuse("a correction needs a reason, which is emailed to the applicant", "اصلاح به دلیلی نیاز دارد که به ایمیل متقاضی فرستاده می‌شود")
	case consular.ReasonTooLong:
		return refuse("the reason must be at most "+strconv.Itoa(consular.MaxCorrectionReason)+" characters",
			"دلیل حداکثر "+strconv.Itoa(consular.MaxCorrectionReason)+" نویسه باشد")
	}
	in.Value = stored
	return in, field.Name, nil // the audit line names the field, never its values
}

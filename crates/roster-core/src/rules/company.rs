//! Company users (seed 002): a user in a company carries a job title and a
//! telephone, and company data needs a company.

use uuid::Uuid;

/// What is wrong with a user's company data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompanyDataError {
    /// Company data (job title, telephone, status) was given for a user in
    /// no company.
    #[error("is required to set company data")]
    CompanyRequired,
    /// A company user without a job title.
    #[error("is required for a company user")]
    JobTitleRequired,
    /// A company user without a telephone.
    #[error("is required for a company user")]
    TelephoneRequired,
}

/// What a change to a user's company data gave.
#[derive(Debug, Clone, Copy, Default)]
pub struct Given {
    pub company: bool,
    pub job_title: bool,
    pub telephone: bool,
    pub status: bool,
}

impl Given {
    fn any(&self) -> bool {
        self.company || self.job_title || self.telephone || self.status
    }
}

/// The user's company data after a change, and what the change gave.
#[derive(Debug, Clone, Copy)]
pub struct CompanyData<'a> {
    /// The company the user is in after the change.
    pub company_id: Option<Uuid>,
    /// The job title after the change.
    pub job_title: Option<&'a str>,
    /// The telephone after the change.
    pub telephone: Option<&'a str>,
    pub given: Given,
}

/// Checks company data after a change: a change that sets company data
/// (job title, telephone, company status) needs the user to end up in a
/// company, and a user in a company needs a job title and a telephone, given
/// now or already held. A change that gives no company data is never
/// refused, so users made elsewhere keep working.
pub fn check_company_data(data: &CompanyData<'_>) -> Result<(), CompanyDataError> {
    let given = data.given;
    if !given.any() {
        return Ok(());
    }
    if data.company_id.is_none() {
        return if given.job_title || given.telephone || given.status {
            Err(CompanyDataError::CompanyRequired)
        } else {
            Ok(())
        };
    }
    if data.job_title.is_none() {
        return Err(CompanyDataError::JobTitleRequired);
    }
    if data.telephone.is_none() {
        return Err(CompanyDataError::TelephoneRequired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Given = Given {
        company: true,
        job_title: true,
        telephone: true,
        status: false,
    };

    fn data<'a>(
        company: bool,
        job_title: Option<&'a str>,
        telephone: Option<&'a str>,
        given: Given,
    ) -> CompanyData<'a> {
        CompanyData {
            company_id: company.then(Uuid::nil),
            job_title,
            telephone,
            given,
        }
    }

    #[test]
    fn company_users_need_job_title_and_telephone() {
        assert_eq!(
            check_company_data(&data(true, Some("Rep"), Some("1"), ALL)),
            Ok(())
        );
        assert_eq!(
            check_company_data(&data(true, None, Some("1"), ALL)),
            Err(CompanyDataError::JobTitleRequired)
        );
        // A company given without a job title is refused even when only the
        // telephone comes with it.
        let company_and_phone = Given {
            company: true,
            telephone: true,
            ..Given::default()
        };
        assert_eq!(
            check_company_data(&data(true, None, Some("1"), company_and_phone)),
            Err(CompanyDataError::JobTitleRequired)
        );
        assert_eq!(
            check_company_data(&data(true, Some("Rep"), None, ALL)),
            Err(CompanyDataError::TelephoneRequired)
        );
    }

    #[test]
    fn company_data_needs_a_company() {
        let status = Given {
            status: true,
            ..Given::default()
        };
        assert_eq!(
            check_company_data(&data(false, None, None, status)),
            Err(CompanyDataError::CompanyRequired)
        );
        let leaving = Given {
            company: true,
            ..Given::default()
        };
        assert_eq!(
            check_company_data(&data(false, None, None, leaving)),
            Ok(())
        );
    }

    #[test]
    fn untouched_data_is_not_checked() {
        assert_eq!(
            check_company_data(&data(true, None, None, Given::default())),
            Ok(())
        );
    }
}
